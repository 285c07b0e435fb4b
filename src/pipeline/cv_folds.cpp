#include "pipeline/cv_folds.h"

#include <algorithm>

#include "common/error.h"

namespace hiscmcl {

std::vector<Fold> make_folds(const std::vector<PreparedSection>& sections, CvSplit split) {
  std::vector<Fold> folds;
  if (split == CvSplit::loso) {
    for (size_t i = 0; i < sections.size(); ++i) {
      Fold f{sections[i].id, {i}, {}};
      for (size_t j = 0; j < sections.size(); ++j)
        if (j != i) f.train.push_back(j);
      folds.push_back(f);
    }
  } else {
    std::vector<std::string> patients;
    for (auto& s : sections)
      if (std::find(patients.begin(), patients.end(), s.patient) == patients.end()) patients.push_back(s.patient);
    for (auto& p : patients) {
      Fold f{"patient_" + p, {}, {}};
      for (size_t j = 0; j < sections.size(); ++j) (sections[j].patient == p ? f.test : f.train).push_back(j);
      folds.push_back(f);
    }
  }
  for (auto& f : folds)
    if (f.train.empty())
      throw InputError("--split", "fold " + f.name + " leaves no training section (need >= 2 sections" +
                                      std::string(split == CvSplit::lopo ? " from >= 2 patients)" : ")"));
  return folds;
}

}  // namespace hiscmcl
