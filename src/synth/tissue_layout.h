// The ground truth of one synthetic section: a per-pixel tissue class map laid out by smooth random
// fields (tissue boundary, fat, tumour nests, immune aggregates hugging tumour edges, glands in
// stroma) and the list of nuclei (position, shape, stain) that the renderer draws. Everything is
// in image pixels; sizes are set in micrometres and scaled by um_per_px. The same (seed, index)
// always gives the same layout, whatever the thread count.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hiscmcl::synth {

// Pixel classes. Lumen and gland epithelium both count as "gland" in compositions.
enum TissueClass : uint8_t {
  kBackground = 0, kStroma = 1, kTumour = 2, kImmune = 3, kFat = 4, kGland = 5, kLumen = 6
};
constexpr int kNumCompartments = 5;  // stroma, tumour, immune, fat, gland (background excluded)
int compartment_of(uint8_t cls);     // -1 for background, else 0..4 in the order above

enum class NucleusKind : uint8_t { tumour, immune, fibroblast, gland };

struct Nucleus {
  float cx, cy;      // centre (px)
  float a, b;        // semi-axes (px), a along `angle`
  float angle;       // radians
  float dark;        // haematoxylin optical density
  float irregular;   // boundary wobble amplitude (fraction of radius)
  float phase1, phase2;
  NucleusKind kind;
};

struct Gland {
  float cx, cy, a, b, angle;  // lumen ellipse (px)
  float wall;                 // epithelium thickness (px)
};

// A smooth field sampled every `step` px, read back with bilinear interpolation.
struct CoarseField {
  int w = 0, h = 0;
  float step = 1;
  std::vector<float> v;
  float at(float x, float y) const;
};

struct TissueLayout {
  int width = 0, height = 0;
  double um_per_px = 1;
  uint64_t seed = 0;                 // section seed: textures derive from it
  std::vector<uint8_t> classes;      // width*height, TissueClass
  std::vector<Nucleus> nuclei;
  std::vector<Gland> glands;
  float fat_cell_px = 0;             // adipocyte Voronoi cell size (px)
  CoarseField fibre_angle;           // collagen fibre direction (radians)

  uint8_t at(int x, int y) const { return classes[size_t(y) * width + x]; }
};

struct LayoutParams {
  int width = 0, height = 0;
  double um_per_px = 1;
  double tissue_cx = 0, tissue_cy = 0, tissue_rx = 0, tissue_ry = 0;  // the tissue blob (px)
};

// Builds the class map (parallel over tiles) and places nuclei and glands.
TissueLayout build_tissue_layout(const LayoutParams& p, uint64_t section_seed);

// Spot composition measured from the layout: fraction of each compartment among the disk's
// pixels (background pixels excluded from the denominator), the tissue fraction (non-background
// share of all pixels), and nuclei per 1000 um^2 of tissue.
struct Composition {
  std::array<double, kNumCompartments> frac{};  // stroma, tumour, immune, fat, gland
  double tissue = 0;
  double nuclei_per_kum2 = 0;
};
// A disk of radius r (px) around (cx, cy); r_inner > 0 makes it the ring r_inner..r.
Composition measure_composition(const TissueLayout& L, double cx, double cy, double r,
                                double r_inner = 0);

}  // namespace hiscmcl::synth
