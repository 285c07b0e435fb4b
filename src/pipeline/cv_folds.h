// The folds of a cross-validation: leave one section out (loso, the paper's) or leave one
// patient out (lopo). Each fold names its held-out and training sections by index.
#pragma once
#include <string>
#include <vector>

#include "config/choices.h"
#include "io/section.h"

namespace hiscmcl {

enum class CvSplit { loso, lopo };
template <>
struct EnumChoices<CvSplit> {
  static constexpr std::pair<CvSplit, const char*> values[] = {{CvSplit::loso, "loso"}, {CvSplit::lopo, "lopo"}};
};

struct Fold {
  std::string name;                   // the held-out section's id, or patient_<id>
  std::vector<size_t> test, train;    // indices into the sections
};

// InputError (naming --split) when a fold would have no training section.
std::vector<Fold> make_folds(const std::vector<PreparedSection>& sections, CvSplit split);

}  // namespace hiscmcl
