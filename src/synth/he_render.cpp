#include "synth/he_render.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/thread_pool.h"
#include "synth/noise.h"

namespace hiscmcl::synth {
namespace {

constexpr int kTile = 256;
constexpr float kTwoPi = 6.28318530718f;

struct OD {
  float h, e;
};

// Distance (px) from p to the nearest Voronoi bisector of a jittered grid of seeds (fat cells).
float voronoi_edge_distance(uint64_t seed, float x, float y, float cell) {
  float gx = x / cell, gy = y / cell;
  int ix = int(std::floor(gx)), iy = int(std::floor(gy));
  float best_d = 1e30f, best_x = 0, best_y = 0, second = 1e30f;
  float sx[9], sy[9];
  int n = 0;
  for (int j = -1; j <= 1; ++j)
    for (int i = -1; i <= 1; ++i) {
      uint64_t h = hash2(seed, ix + i, iy + j);
      sx[n] = (ix + i + 0.1f + 0.8f * unit_from_hash(h)) * cell;
      sy[n] = (iy + j + 0.1f + 0.8f * unit_from_hash(mix64(h))) * cell;
      float d = (sx[n] - x) * (sx[n] - x) + (sy[n] - y) * (sy[n] - y);
      if (d < best_d) { best_d = d; best_x = sx[n]; best_y = sy[n]; }
      ++n;
    }
  for (int k = 0; k < n; ++k) {
    if (sx[k] == best_x && sy[k] == best_y) continue;
    float d2 = (sx[k] - x) * (sx[k] - x) + (sy[k] - y) * (sy[k] - y);
    float sep = std::sqrt((sx[k] - best_x) * (sx[k] - best_x) + (sy[k] - best_y) * (sy[k] - best_y));
    float bis = (d2 - best_d) / (2 * sep);  // distance to the bisector between the two seeds
    second = std::min(second, bis);
  }
  return second;
}

OD background_stain(const TissueLayout& L, int x, int y, uint8_t cls, float um) {
  const uint64_t s = L.seed;
  const float xu = x * um, yu = y * um;
  switch (cls) {
    case kStroma: {
      // Collagen: noise stretched along the local fibre direction. The direction is taken
      // constant per 48-um cell and the four nearest cells are blended, which avoids the moire
      // a continuously rotating frame would give far from the origin.
      const float cell = 48.0f;
      float gx = xu / cell - 0.5f, gy = yu / cell - 0.5f;
      int ix = int(std::floor(gx)), iy = int(std::floor(gy));
      float tx = gx - ix, ty = gy - iy, f = 0;
      for (int j = 0; j <= 1; ++j)
        for (int i = 0; i <= 1; ++i) {
          float w = (i ? tx : 1 - tx) * (j ? ty : 1 - ty);
          float th = L.fibre_angle.at((ix + i + 0.5f) * cell / um, (iy + j + 0.5f) * cell / um);
          float c = std::cos(th), sn = std::sin(th);
          float along = c * xu + sn * yu, across = -sn * xu + c * yu;
          float v = 0.65f * value_noise(mix64(s + 101), along / 45, across / 3.2f) +
                    0.35f * value_noise(mix64(s + 102), along / 20, across / 1.6f);
          f += w * v;
        }
      f = smoothstep(-0.45f, 0.45f, f);
      float e = 0.16f + 0.62f * f;
      float cleft = value_noise(mix64(s + 103), xu / 40, yu / 40);
      e *= 1.0f - 0.85f * smoothstep(0.3f, 0.65f, cleft) * (1.0f - f);
      return {0.05f, e};
    }
    case kTumour: {
      float t = value_noise(mix64(s + 104), xu / 4, yu / 4);
      return {0.17f + 0.04f * t, 0.42f * (0.9f + 0.15f * t)};
    }
    case kImmune: return {0.16f, 0.26f + 0.05f * value_noise(mix64(s + 105), xu / 4, yu / 4)};
    case kFat: {
      float d = voronoi_edge_distance(mix64(s + 106), float(x), float(y), L.fat_cell_px);
      float rim = 1.0f - smoothstep(0.6f / um, 2.2f / um, d);
      return {0.02f + 0.06f * rim, 0.015f + 0.62f * rim};
    }
    case kGland: return {0.12f, 0.36f + 0.05f * value_noise(mix64(s + 107), xu / 4, yu / 4)};
    case kLumen: return {0.0f, 0.03f + 0.05f * std::max(0.0f, value_noise(mix64(s + 108), xu / 12, yu / 12))};
    default: return {0.0f, 0.0f};
  }
}

// Blends one nucleus into the tile's H/E planes (tile origin x0,y0, size tw x th).
void draw_nucleus(const Nucleus& n, uint64_t seed, float um, int x0, int y0, int tw, int th,
                  std::vector<OD>& od) {
  const float R = n.a * (1 + n.irregular) + 2;
  int xa = std::max(x0, int(std::floor(n.cx - R))), xb = std::min(x0 + tw - 1, int(std::ceil(n.cx + R)));
  int ya = std::max(y0, int(std::floor(n.cy - R))), yb = std::min(y0 + th - 1, int(std::ceil(n.cy + R)));
  const float c = std::cos(n.angle), s = std::sin(n.angle);
  const float minax = std::min(n.a, n.b);
  // Nucleolus of tumour nuclei: a small dark dot off centre.
  const float nlx = 0.25f * n.a * std::cos(n.phase1), nly = 0.25f * n.b * std::sin(n.phase2);
  const float nlr = 1.0f / um;
  const bool nucleolus = n.kind == NucleusKind::tumour && std::sin(n.phase1 * 3.1f) > -0.2f;
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x) {
      float dx = x - n.cx, dy = y - n.cy;
      float u = c * dx + s * dy, v = -s * dx + c * dy;
      float nu = u / n.a, nv = v / n.b;
      float rho = std::sqrt(nu * nu + nv * nv);
      float ang = std::atan2(nv, nu);
      float boundary = 1 + n.irregular * (0.6f * std::sin(2 * ang + n.phase1) + 0.4f * std::sin(3 * ang + n.phase2));
      float cover = std::clamp((boundary - rho) * minax + 0.5f, 0.0f, 1.0f);
      if (cover <= 0) continue;
      float chrom = value_noise(mix64(seed + 201), x * um / 1.5f, y * um / 1.5f);
      float h;
      if (n.kind == NucleusKind::tumour) {
        // Vesicular: chromatin pushed to the membrane, paler centre, coarse clumps.
        h = n.dark * (0.62f + 0.38f * std::min(1.0f, rho / boundary)) * (0.82f + 0.3f * chrom);
        if (nucleolus) {
          float d = std::hypot(u - nlx, v - nly);
          h += 0.9f * (1 - smoothstep(nlr * 0.6f, nlr * 1.3f, d));
        }
      } else {
        h = n.dark * (0.9f + 0.18f * chrom);
      }
      OD& p = od[size_t(y - y0) * tw + (x - x0)];
      p.h = p.h * (1 - cover) + cover * h;
      p.e = p.e * (1 - cover) + cover * 0.12f;
    }
}

}  // namespace

StainParams random_stain(uint64_t seed) {
  std::mt19937_64 rng(mix64(seed + 0x57a1));
  std::normal_distribution<float> N(0.0f, 1.0f);
  StainParams p;
  for (int k = 0; k < 3; ++k) {
    p.h_od[k] *= 1 + 0.05f * N(rng);
    p.e_od[k] *= 1 + 0.06f * N(rng);
  }
  p.h_scale = 1 + 0.07f * N(rng);
  p.e_scale = 1 + 0.09f * N(rng);
  float tint = 3 * N(rng);
  p.background = {243 + tint, 241 + 0.5f * tint, 245 - 0.5f * tint};
  return p;
}

cv::Mat render_he(const TissueLayout& L, const StainParams& st) {
  const int W = L.width, H = L.height;
  const float um = float(L.um_per_px);
  cv::Mat img(H, W, CV_8UC3);
  const int tx = (W + kTile - 1) / kTile, ty = (H + kTile - 1) / kTile;

  // Bucket nuclei by the tiles their bounding box touches (in list order: deterministic blending).
  std::vector<std::vector<uint32_t>> bucket(size_t(tx) * ty);
  for (size_t i = 0; i < L.nuclei.size(); ++i) {
    const Nucleus& n = L.nuclei[i];
    float R = n.a * (1 + n.irregular) + 2;
    int ta = std::max(0, int((n.cx - R) / kTile)), tb = std::min(tx - 1, int((n.cx + R) / kTile));
    int ua = std::max(0, int((n.cy - R) / kTile)), ub = std::min(ty - 1, int((n.cy + R) / kTile));
    for (int v = ua; v <= ub; ++v)
      for (int u = ta; u <= tb; ++u) bucket[size_t(v) * tx + u].push_back(uint32_t(i));
  }

  parallel_for(int64_t(tx) * ty, [&](int64_t t) {
    const int x0 = int(t % tx) * kTile, y0 = int(t / tx) * kTile;
    const int tw = std::min(kTile, W - x0), th = std::min(kTile, H - y0);
    std::vector<OD> od(size_t(tw) * th);
    for (int y = 0; y < th; ++y)
      for (int x = 0; x < tw; ++x) od[size_t(y) * tw + x] = background_stain(L, x0 + x, y0 + y, L.at(x0 + x, y0 + y), um);
    for (uint32_t i : bucket[size_t(t)]) draw_nucleus(L.nuclei[i], L.seed, um, x0, y0, tw, th, od);
    for (int y = 0; y < th; ++y) {
      auto* row = img.ptr<uint8_t>(y0 + y);
      for (int x = 0; x < tw; ++x) {
        const OD& p = od[size_t(y) * tw + x];
        for (int k = 0; k < 3; ++k) {
          float d = p.h * st.h_scale * st.h_od[k] + p.e * st.e_scale * st.e_od[k];
          float v = st.background[k] * std::exp(-d);
          row[3 * (x0 + x) + k] = uint8_t(std::clamp(v + 0.5f, 0.0f, 255.0f));
        }
      }
    }
  });

  // Scanner optics: a slight blur, then grain and a faint illumination falloff.
  if (st.blur_sigma_px > 0) cv::GaussianBlur(img, img, cv::Size(0, 0), st.blur_sigma_px);
  const float cx = W * 0.5f, cy = H * 0.5f, r2 = cx * cx + cy * cy;
  parallel_for(H, [&](int64_t y) {
    auto* row = img.ptr<uint8_t>(int(y));
    for (int x = 0; x < W; ++x) {
      uint64_t h = hash2(L.seed + 301, x, y);
      float g = (unit_from_hash(h) - 0.5f) * 2 * st.grain;
      float shade = 1.0f - 0.035f * ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / r2;
      for (int k = 0; k < 3; ++k) {
        float ch = (unit_from_hash(mix64(h + k)) - 0.5f) * st.grain;  // a little colour noise
        row[3 * x + k] = uint8_t(std::clamp(row[3 * x + k] * shade + g + ch + 0.5f, 0.0f, 255.0f));
      }
    }
  });
  return img;
}

}  // namespace hiscmcl::synth
