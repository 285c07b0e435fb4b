// Weight-free histology features of one RGB crop (the `histo` encoder's maths, pure OpenCV).
// The crop is resized to kHistoInputPx, then the same block of statistics is computed at full and
// at half resolution (prefixes "l0." and "l1."):
//  - stains (Ruifrok–Johnston): H and E mean/std/quantiles, residual and total OD;
//  - composition fractions: nuclear (H above two fixed OD levels), white/empty, dense eosin, dark;
//  - nuclei (H mask, 8-connected components): density, size mean/spread, elongation, ellipse fill,
//    clumped fraction, H inside/outside nuclei, E outside; at full resolution also the size
//    quartiles, per-nucleus H (mean, spread, chromatin texture) and the densities and fractions of
//    three nucleus classes: lymphocyte-like (small, round, dark), large pleomorphic, spindle;
//  - colour: RGB, HSV (circular hue), Lab means and spreads;
//  - texture: gradient magnitude, uniform LBP (P=8, R=1, 10 bins), GLCM on quantised H at
//    distances 1 and 2 (horizontal + vertical pooled).
// Black pixels (max channel < 10: padding outside the image) are left out of every statistic;
// an all-black crop gives zeros. Every output is finite. No standardisation here: callers z-score
// with training statistics. Deterministic and thread-safe.
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace hiscmcl {

// 128 px: a 1x ST spot (~136 px at 0.74 um/px) keeps its native resolution, nuclei stay 8-14 px
// wide for the mask; cost grows with the pixel count (160 px is 1.56x slower for little gain).
constexpr int kHistoInputPx = 128;
// Part of the feature cache's key: bump when the features change.
constexpr int kHistoFeaturesVersion = 2;

const std::vector<std::string>& histo_feature_names();
int64_t histo_feature_dim();
// rgb: CV_8UC3 of any size (resized to kHistoInputPx). out: histo_feature_dim() floats.
void histo_features(const cv::Mat& rgb, float* out);

}  // namespace hiscmcl
