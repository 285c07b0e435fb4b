// Renders a TissueLayout as an H&E image. Each pixel gets haematoxylin and eosin optical
// densities (stroma: wavy collagen fibres with clefts; tumour: purple-pink cytoplasm; fat: white
// polygonal cells with thin pink rims; glands: pale epithelium around a white lumen; nuclei:
// blue-purple ellipses with chromatin texture), converted to RGB by Beer-Lambert with per-section
// stain vectors, then softened and grained like a scan. Parallel over tiles; output identical for
// any thread count.
#pragma once
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

#include "synth/tissue_layout.h"

namespace hiscmcl::synth {

struct StainParams {
  std::array<float, 3> h_od{0.95f, 1.19f, 0.50f};  // optical density per unit haematoxylin (R,G,B)
  std::array<float, 3> e_od{0.07f, 0.93f, 0.42f};  // per unit eosin
  std::array<float, 3> background{244, 242, 246};  // glass, RGB
  float h_scale = 1, e_scale = 1;
  float blur_sigma_px = 0.7f;
  float grain = 3.0f;  // +- intensity noise
};

// Slight random stain variation between sections (a pure function of the seed).
StainParams random_stain(uint64_t seed);

// CV_8UC3 image in RGB order, layout.width x layout.height.
cv::Mat render_he(const TissueLayout& layout, const StainParams& stain);

}  // namespace hiscmcl::synth
