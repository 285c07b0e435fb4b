// The ridge baselines' design matrices, from the same image features the model reads (raw,
// unstandardised; the ridge standardises with training statistics). METHOD.md §8.11.
//   crops:              [spot feature, neighbourhood-crop feature]
//   crops_and_context:  those plus the means of the n_neighbours and n_global nearest spots' spot
//                       features (self included): the context the model's tokens carry, so the
//                       fair, harder baseline.
#pragma once
#include <array>
#include <vector>

#include "common/matrix.h"
#include "encoders/section_features.h"

namespace hiscmcl {

enum class BaselineInputs { crops, crops_and_context };

struct ContextSizes {
  int n_neighbours = 9, n_global = 49;
};

// Throws std::invalid_argument when a context size is < 1.
Matrix baseline_features(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features,
                         BaselineInputs inputs, ContextSizes context = {});

}  // namespace hiscmcl
