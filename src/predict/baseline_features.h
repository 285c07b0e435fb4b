// The ridge baseline's design matrix, from the same image features the model reads: the spot and
// neighbourhood features plus the means of the 9 and 49 nearest spots' spot features (raw,
// unstandardised; the ridge standardises with training statistics). METHOD.md §8.11.
#pragma once
#include <array>
#include <vector>

#include "common/matrix.h"
#include "encoders/section_features.h"

namespace hiscmcl {

Matrix baseline_features(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features);

}  // namespace hiscmcl
