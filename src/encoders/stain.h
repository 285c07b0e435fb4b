// Ruifrok–Johnston colour deconvolution (Anal. Quant. Cytol. Histol. 2001): RGB -> optical density
// (OD_c = -log10((I_c + 1) / 256), finite for black) -> stain concentrations c = OD * inv(M), where
// the rows of M are the unit-length H, E and DAB OD vectors. For H&E the third ("DAB") channel is
// the residual: colour that neither stain explains. Concentrations are NOT clamped at 0: on real
// slides whose eosin differs from the textbook vector, the sign of E still carries colour. Pure OpenCV.
#pragma once
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

namespace hiscmcl {

using Vec3d = std::array<double, 3>;

struct StainMatrix {
  std::array<Vec3d, 3> rgb_from_stain;  // rows: H, E, DAB unit OD vectors (R, G, B)
  std::array<Vec3d, 3> stain_from_rgb;  // inverse: c_j = sum_k OD_k * stain_from_rgb[k][j]
};

// The standard vectors H (0.65, 0.70, 0.29), E (0.07, 0.99, 0.11), DAB (0.27, 0.57, 0.78),
// each normalised to unit length.
const StainMatrix& ruifrok_hed();

double optical_density(uint8_t intensity);
// optical_density of every 8-bit intensity, as float: the per-pixel hot loops read this table.
const std::array<float, 256>& optical_density_table();
// (H, E, residual) of one RGB pixel.
Vec3d stain_concentrations(uint8_t r, uint8_t g, uint8_t b, const StainMatrix& m = ruifrok_hed());
// Per pixel (H, E, residual) of an RGB uint8 image, as CV_32FC3 of the same size.
cv::Mat deconvolve_stains(const cv::Mat& rgb, const StainMatrix& m = ruifrok_hed());
// The RGB pixel that concentrations c would produce (rounded, clamped): for synthetic tests.
cv::Vec3b rgb_from_concentrations(const Vec3d& c, const StainMatrix& m = ruifrok_hed());

// H&E stain augmentation (Tellez et al., IEEE TMI 2018): every pixel's concentrations become
// c_j * scale[j] + shift[j], then back to RGB. Scale 1 and shift 0 return the image up to the
// rounding of the round trip (at most 1 level). Self-supervised pretraining draws
// scale in [0.95, 1.05] and shift in [-0.05, 0.05] per view (METHOD.md §5.3a).
cv::Mat perturb_stains(const cv::Mat& rgb, const Vec3d& scale, const Vec3d& shift,
                       const StainMatrix& m = ruifrok_hed());

}  // namespace hiscmcl
