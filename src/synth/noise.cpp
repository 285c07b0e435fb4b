#include "synth/noise.h"

namespace hiscmcl::synth {

float value_noise(uint64_t seed, float x, float y) {
  float fx = std::floor(x), fy = std::floor(y);
  int64_t ix = int64_t(fx), iy = int64_t(fy);
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  float v00 = hash_unit(seed, ix, iy), v10 = hash_unit(seed, ix + 1, iy);
  float v01 = hash_unit(seed, ix, iy + 1), v11 = hash_unit(seed, ix + 1, iy + 1);
  float a = v00 + (v10 - v00) * tx, b = v01 + (v11 - v01) * tx;
  return 2.0f * (a + (b - a) * ty) - 1.0f;
}

float fbm(uint64_t seed, float x, float y, int octaves) {
  float sum = 0, amp = 1, norm = 0, f = 1;
  for (int o = 0; o < octaves; ++o) {
    sum += amp * value_noise(mix64(seed + uint64_t(o)), x * f, y * f);
    norm += amp;
    amp *= 0.5f;
    f *= 2.0f;
  }
  return sum / norm;
}

}  // namespace hiscmcl::synth
