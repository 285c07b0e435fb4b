// Derives independent generator seeds from (seed, index) pairs: splitmix64's finaliser over a
// golden-ratio combination, so neighbouring indices give unrelated streams. Used wherever a
// per-epoch, per-spot or per-view generator must repeat bit for bit under one user seed.
#pragma once
#include <cstdint>

namespace hiscmcl {

inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace hiscmcl
