#include "synth/tissue_layout.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "common/thread_pool.h"
#include "synth/noise.h"

namespace hiscmcl::synth {
namespace {

constexpr float kPi = 3.14159265358979f;
constexpr int kTile = 256;

// The smooth fields that decide which tissue sits where (one coarse grid each).
struct Fields {
  CoarseField tissue, fat, tumour, nest, immune, gland;
  float q_fat = 0, q_tumour = 0, q_nest = -0.35f, q_immune = 0, q_gland = 0;

  float immune_score(float x, float y) const {
    // Immune aggregates: their own blobs plus a band hugging the tumour edge.
    float t = tumour.at(x, y) - q_tumour;
    return immune.at(x, y) + 0.9f * std::exp(-(t * t) / (0.05f * 0.05f));
  }
  uint8_t classify(float x, float y) const {  // without glands
    if (tissue.at(x, y) <= 0) return kBackground;
    if (fat.at(x, y) > q_fat) return kFat;
    if (tumour.at(x, y) > q_tumour && nest.at(x, y) > q_nest) return kTumour;
    if (immune_score(x, y) > q_immune) return kImmune;
    return kStroma;
  }
};

CoarseField make_field(int W, int H, float step, const std::function<float(float, float)>& f) {
  CoarseField c;
  c.step = step;
  c.w = int(std::ceil(W / step)) + 2;
  c.h = int(std::ceil(H / step)) + 2;
  c.v.resize(size_t(c.w) * c.h);
  parallel_for(c.h, [&](int64_t j) {
    for (int i = 0; i < c.w; ++i) c.v[size_t(j) * c.w + i] = f(i * step, float(j) * step);
  });
  return c;
}

float quantile(std::vector<float> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

bool in_gland(const Gland& g, float x, float y, bool* lumen) {
  float dx = x - g.cx, dy = y - g.cy;
  float c = std::cos(g.angle), s = std::sin(g.angle);
  float u = (c * dx + s * dy) / g.a, v = (-s * dx + c * dy) / g.b;
  float rho = std::sqrt(u * u + v * v);
  *lumen = rho < 1.0f;
  return rho < 1.0f + g.wall / (0.5f * (g.a + g.b));
}

}  // namespace

float CoarseField::at(float x, float y) const {
  float fx = std::clamp(x / step, 0.0f, float(w - 1) - 1e-3f);
  float fy = std::clamp(y / step, 0.0f, float(h - 1) - 1e-3f);
  int ix = int(fx), iy = int(fy);
  float tx = fx - ix, ty = fy - iy;
  const float* r0 = &v[size_t(iy) * w + ix];
  const float* r1 = r0 + w;
  float a = r0[0] + (r0[1] - r0[0]) * tx, b = r1[0] + (r1[1] - r1[0]) * tx;
  return a + (b - a) * ty;
}

int compartment_of(uint8_t cls) {
  switch (cls) {
    case kStroma: return 0;
    case kTumour: return 1;
    case kImmune: return 2;
    case kFat: return 3;
    case kGland:
    case kLumen: return 4;
    default: return -1;
  }
}

TissueLayout build_tissue_layout(const LayoutParams& p, uint64_t section_seed) {
  TissueLayout L;
  L.width = p.width;
  L.height = p.height;
  L.um_per_px = p.um_per_px;
  L.seed = section_seed;
  const float um = float(p.um_per_px);  // multiply px by this to get um
  const float px = 1.0f / um;           // multiply um by this to get px
  const int W = p.width, H = p.height;
  auto salt = [&](uint64_t k) { return mix64(section_seed * 0x9e37ULL + k); };

  // ---- smooth fields on a coarse grid (every 8 px) ----
  Fields F;
  const float step = 8.0f;
  const float cx = float(p.tissue_cx), cy = float(p.tissue_cy);
  const float rx = float(p.tissue_rx), ry = float(p.tissue_ry);
  F.tissue = make_field(W, H, step, [&](float x, float y) {
    float dx = (x - cx) / rx, dy = (y - cy) / ry;
    return 1.0f - (dx * dx + dy * dy) + 0.6f * fbm(salt(1), x * um / 700, y * um / 700, 3);
  });
  F.fat = make_field(W, H, step, [&](float x, float y) { return fbm(salt(2), x * um / 550, y * um / 550, 3); });
  F.tumour = make_field(W, H, step, [&](float x, float y) { return fbm(salt(3), x * um / 520, y * um / 520, 3); });
  F.nest = make_field(W, H, step, [&](float x, float y) { return fbm(salt(4), x * um / 95, y * um / 95, 2); });
  F.immune = make_field(W, H, step, [&](float x, float y) { return fbm(salt(5), x * um / 170, y * um / 170, 2); });
  F.gland = make_field(W, H, step, [&](float x, float y) { return fbm(salt(6), x * um / 450, y * um / 450, 2); });
  L.fibre_angle = make_field(W, H, step, [&](float x, float y) {
    return kPi * 1.3f * fbm(salt(7), x * um / 380, y * um / 380, 2);
  });

  // Thresholds from quantiles over the tissue so every section has every compartment.
  {
    std::vector<float> fat, tum, imm, gl;
    std::vector<std::pair<float, float>> pts;
    for (int j = 0; j < F.tissue.h; ++j)
      for (int i = 0; i < F.tissue.w; ++i)
        if (F.tissue.v[size_t(j) * F.tissue.w + i] > 0) pts.push_back({i * step, j * step});
    for (auto [x, y] : pts) fat.push_back(F.fat.at(x, y));
    F.q_fat = quantile(fat, 0.86);
    for (auto [x, y] : pts)
      if (F.fat.at(x, y) <= F.q_fat) tum.push_back(F.tumour.at(x, y));
    F.q_tumour = quantile(tum, 0.60);
    for (auto [x, y] : pts)
      if (F.fat.at(x, y) <= F.q_fat && !(F.tumour.at(x, y) > F.q_tumour && F.nest.at(x, y) > F.q_nest))
        imm.push_back(F.immune_score(x, y));
    F.q_immune = quantile(imm, 0.86);
    for (auto [x, y] : pts)
      if (F.classify(x, y) == kStroma) gl.push_back(F.gland.at(x, y));
    F.q_gland = quantile(gl, 0.65);
  }

  // ---- glands: jittered grid in the gland-rich part of the stroma ----
  std::mt19937_64 rng(salt(10));
  std::uniform_real_distribution<float> U(0.0f, 1.0f);
  {
    const float sp = 150 * px;
    int nx = int(W / sp) + 1, ny = int(H / sp) + 1;
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        Gland g;
        g.cx = (i + 0.2f + 0.6f * U(rng)) * sp;
        g.cy = (j + 0.2f + 0.6f * U(rng)) * sp;
        g.a = (13 + 17 * U(rng)) * px;
        g.b = g.a * (0.55f + 0.45f * U(rng));
        g.angle = kPi * U(rng);
        g.wall = (10 + 3 * U(rng)) * px;
        float accept = U(rng);
        if (g.cx >= W || g.cy >= H || accept > 0.75f) continue;
        if (F.gland.at(g.cx, g.cy) <= F.q_gland) continue;
        float outer = g.a + g.wall + 6 * px;
        bool ok = F.classify(g.cx, g.cy) == kStroma;
        for (int k = 0; k < 12 && ok; ++k) {
          float t = 2 * kPi * k / 12;
          ok = F.classify(g.cx + outer * std::cos(t), g.cy + outer * std::sin(t)) == kStroma;
        }
        for (const Gland& o : L.glands)
          if (ok) ok = std::hypot(o.cx - g.cx, o.cy - g.cy) > outer + o.a + o.wall + 10 * px;
        if (ok) L.glands.push_back(g);
      }
  }

  // ---- the class map, tile by tile ----
  L.classes.assign(size_t(W) * H, kBackground);
  const int tx = (W + kTile - 1) / kTile, ty = (H + kTile - 1) / kTile;
  parallel_for(int64_t(tx) * ty, [&](int64_t t) {
    int x0 = int(t % tx) * kTile, y0 = int(t / tx) * kTile;
    int x1 = std::min(W, x0 + kTile), y1 = std::min(H, y0 + kTile);
    std::vector<const Gland*> near;
    for (const Gland& g : L.glands) {
      float r = g.a + g.wall + 2;
      if (g.cx + r >= x0 && g.cx - r < x1 && g.cy + r >= y0 && g.cy - r < y1) near.push_back(&g);
    }
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        uint8_t c = F.classify(float(x), float(y));
        if (c == kStroma)
          for (const Gland* g : near) {
            bool lumen;
            if (in_gland(*g, float(x), float(y), &lumen)) {
              c = lumen ? kLumen : kGland;
              break;
            }
          }
        L.classes[size_t(y) * W + x] = c;
      }
  });

  // ---- nuclei ----
  auto cls_at = [&](float x, float y) -> uint8_t {
    int ix = int(x), iy = int(y);
    if (ix < 0 || iy < 0 || ix >= W || iy >= H) return kBackground;
    return L.at(ix, iy);
  };
  auto lognormal = [&](float median, float sigma) {
    std::normal_distribution<float> N(0.0f, sigma);
    return median * std::exp(N(rng));
  };
  // Jittered-grid candidates: spacing (um), acceptance per class.
  auto scatter = [&](float spacing_um, uint64_t k, const std::function<float(uint8_t)>& accept,
                     const std::function<void(float, float)>& emit) {
    const float sp = spacing_um * px;
    int nx = int(W / sp) + 1, ny = int(H / sp) + 1;
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        uint64_t h = hash2(salt(k), i, j);
        float x = (i + 0.15f + 0.7f * unit_from_hash(h)) * sp;
        float y = (j + 0.15f + 0.7f * unit_from_hash(mix64(h))) * sp;
        float u = unit_from_hash(mix64(h + 7));
        if (u < accept(cls_at(x, y))) emit(x, y);
      }
  };
  // Tumour: large, crowded, pleomorphic, some with nucleoli.
  scatter(13.5f, 20, [](uint8_t c) { return c == kTumour ? 0.93f : 0.0f; }, [&](float x, float y) {
    Nucleus n{};
    n.cx = x; n.cy = y;
    n.a = std::clamp(lognormal(6.6f, 0.22f), 4.0f, 11.5f) * px;
    n.b = n.a * (0.62f + 0.33f * U(rng));
    n.angle = kPi * U(rng);
    n.dark = 0.95f + 0.55f * U(rng);
    n.irregular = 0.05f + 0.16f * U(rng);
    n.phase1 = 2 * kPi * U(rng); n.phase2 = 2 * kPi * U(rng);
    n.kind = NucleusKind::tumour;
    L.nuclei.push_back(n);
  });
  // Lymphocytes: small, round, very dark, densely packed in aggregates; a few scattered.
  scatter(7.6f, 21, [](uint8_t c) {
    return c == kImmune ? 0.86f : c == kStroma ? 0.035f : c == kTumour ? 0.04f : 0.0f;
  }, [&](float x, float y) {
    Nucleus n{};
    n.cx = x; n.cy = y;
    n.a = (2.9f + 0.8f * U(rng)) * px;
    n.b = n.a * (0.85f + 0.15f * U(rng));
    n.angle = kPi * U(rng);
    n.dark = 1.6f + 0.45f * U(rng);
    n.irregular = 0.03f + 0.04f * U(rng);
    n.phase1 = 2 * kPi * U(rng); n.phase2 = 2 * kPi * U(rng);
    n.kind = NucleusKind::immune;
    L.nuclei.push_back(n);
  });
  // Fibroblasts: thin spindles along the collagen.
  scatter(24.0f, 22, [](uint8_t c) { return c == kStroma ? 0.5f : 0.0f; }, [&](float x, float y) {
    Nucleus n{};
    n.cx = x; n.cy = y;
    n.a = (6.0f + 4.5f * U(rng)) * px;
    n.b = (1.3f + 0.9f * U(rng)) * px;
    n.angle = L.fibre_angle.at(x, y) + 0.25f * (U(rng) - 0.5f);
    n.dark = 1.15f + 0.4f * U(rng);
    n.irregular = 0.04f + 0.05f * U(rng);
    n.phase1 = 2 * kPi * U(rng); n.phase2 = 2 * kPi * U(rng);
    n.kind = NucleusKind::fibroblast;
    L.nuclei.push_back(n);
  });
  // Glands: one layer of cuboidal nuclei ringing the lumen, long axis radial.
  for (const Gland& g : L.glands) {
    float avg = 0.5f * (g.a + g.b);
    float rho = 1.0f + 0.5f * g.wall / avg;
    float perim = 2 * kPi * avg * rho;
    int n_nuc = std::max(6, int(perim / (8.0f * px)));
    float c = std::cos(g.angle), s = std::sin(g.angle);
    for (int k = 0; k < n_nuc; ++k) {
      if (U(rng) < 0.08f) continue;
      float phi = 2 * kPi * (k + 0.25f * (U(rng) - 0.5f)) / n_nuc;
      float u = g.a * rho * std::cos(phi), v = g.b * rho * std::sin(phi);
      Nucleus n{};
      n.cx = g.cx + c * u - s * v;
      n.cy = g.cy + s * u + c * v;
      // Normal of the ellipse at phi gives the radial direction.
      float nu = std::cos(phi) / g.a, nv = std::sin(phi) / g.b;
      n.angle = g.angle + std::atan2(nv, nu);
      n.a = (4.0f + 1.0f * U(rng)) * px;
      n.b = (2.9f + 0.6f * U(rng)) * px;
      n.dark = 1.2f + 0.35f * U(rng);
      n.irregular = 0.03f + 0.04f * U(rng);
      n.phase1 = 2 * kPi * U(rng); n.phase2 = 2 * kPi * U(rng);
      n.kind = NucleusKind::gland;
      L.nuclei.push_back(n);
    }
  }
  L.fat_cell_px = 75 * px;
  return L;
}

Composition measure_composition(const TissueLayout& L, double cx, double cy, double r,
                                double r_inner) {
  Composition c;
  const int sstep = r > 40 ? 2 : 1;  // sample every other pixel on big disks
  std::array<int64_t, kNumCompartments> n{};
  int64_t total = 0, tissue = 0;
  const double r2 = r * r, ri2 = r_inner * r_inner;
  int y0 = int(std::floor(cy - r)), y1 = int(std::ceil(cy + r));
  int x0 = int(std::floor(cx - r)), x1 = int(std::ceil(cx + r));
  for (int y = y0; y <= y1; y += sstep)
    for (int x = x0; x <= x1; x += sstep) {
      double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      if (d2 > r2 || d2 < ri2) continue;
      ++total;
      if (x < 0 || y < 0 || x >= L.width || y >= L.height) continue;
      int k = compartment_of(L.at(x, y));
      if (k < 0) continue;
      ++n[k];
      ++tissue;
    }
  if (total > 0) c.tissue = double(tissue) / double(total);
  for (int k = 0; k < kNumCompartments; ++k) c.frac[k] = tissue > 0 ? double(n[k]) / double(tissue) : 0;
  int64_t count = 0;
  for (const Nucleus& nu : L.nuclei) {
    double d2 = (nu.cx - cx) * (nu.cx - cx) + (nu.cy - cy) * (nu.cy - cy);
    if (d2 <= r2 && d2 >= ri2) ++count;
  }
  double tissue_um2 = double(tissue) * sstep * sstep * L.um_per_px * L.um_per_px;
  c.nuclei_per_kum2 = tissue_um2 > 0 ? 1000.0 * double(count) / tissue_um2 : 0;
  return c;
}

}  // namespace hiscmcl::synth
