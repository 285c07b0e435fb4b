// Training-time augmentation of image crops, as the reference (METHOD.md §4.5), with PIL semantics:
//   1. colour jitter: brightness, contrast, saturation factors each uniform in [1-j, 1+j]
//      (j = 0.5), applied in a random order; brightness blends with black, contrast with a uniform
//      grey at the rounded mean luminance, saturation with the luminance image
//      (L = (299 R + 587 G + 114 B) / 1000, rounded as PIL); each blend clipped to [0, 255]
//      and truncated to uint8, as PIL's Image.blend;
//   2. horizontal flip with p = 0.5;
//   3. rotation by an angle uniform in [-180, 180] degrees (counter-clockwise, as PIL) about the
//      crop centre, nearest-neighbour, same canvas, corners black.
// Draws and application are separate so tests can apply known parameters; every spot draws from
// its own seeded generator, so runs repeat exactly.
#pragma once
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <random>

namespace hiscmcl {

struct AugmentParams {
  double brightness = 1, contrast = 1, saturation = 1;  // 1 = unchanged
  std::array<int, 3> order{0, 1, 2};                    // 0 brightness, 1 contrast, 2 saturation
  bool flip = false;                                    // horizontal
  double angle_deg = 0;
};

AugmentParams draw_augment(std::mt19937_64& rng, double jitter = 0.5);

// rgb: CV_8UC3. Returns a new crop of the same size (std::invalid_argument on another type).
cv::Mat apply_augment(const cv::Mat& rgb, const AugmentParams& p);

// The three jitter operations alone (PIL ImageEnhance semantics), for tests and reuse.
cv::Mat adjust_brightness(const cv::Mat& rgb, double factor);
cv::Mat adjust_contrast(const cv::Mat& rgb, double factor);
cv::Mat adjust_saturation(const cv::Mat& rgb, double factor);
cv::Mat rotate_nearest(const cv::Mat& rgb, double angle_deg);

}  // namespace hiscmcl
