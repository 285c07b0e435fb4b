// Deterministic hashing and smooth noise for the synthetic tissue generator.
// Every value is a pure function of (seed, coordinates), so tiles rendered on any thread in any
// order give byte-identical images. value_noise is lattice noise in [-1, 1] with smoothstep
// interpolation; fbm sums octaves (each half the amplitude, twice the frequency), still in [-1, 1].
#pragma once
#include <cmath>
#include <cstdint>

namespace hiscmcl::synth {

inline uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t hash2(uint64_t seed, int64_t x, int64_t y) {
  return mix64(seed ^ mix64(uint64_t(x) * 0x632be59bd9b4e019ULL ^ mix64(uint64_t(y) + 0x51ed27ULL)));
}

// Uniform in [0, 1) from a hash.
inline float unit_from_hash(uint64_t h) { return float(h >> 40) * (1.0f / 16777216.0f); }
inline float hash_unit(uint64_t seed, int64_t x, int64_t y) { return unit_from_hash(hash2(seed, x, y)); }

float value_noise(uint64_t seed, float x, float y);
float fbm(uint64_t seed, float x, float y, int octaves);

inline float smoothstep(float e0, float e1, float x) {
  float t = (x - e0) / (e1 - e0);
  t = t < 0 ? 0 : (t > 1 ? 1 : t);
  return t * t * (3 - 2 * t);
}

}  // namespace hiscmcl::synth
