#include "predict/regression_predictor.h"

#include "train/trainer.h"

namespace hiscmcl {
namespace {

SpotPrediction regress(ModelBundle& member, const std::vector<std::array<double, 2>>& pixel_xy,
                       const SectionFeatures& features) {
  Matrix q = query_embeddings(member, pixel_xy, features);
  torch::NoGradGuard no_grad;
  Matrix y = to_matrix(member.model->regress(to_tensor(q)));
  return {y, Matrix(y.rows, y.cols, 0.f)};
}

}  // namespace

SpotPrediction RegressionPredictor::predict(const std::vector<std::array<double, 2>>& pixel_xy,
                                            const SectionFeatures& features) {
  std::vector<SpotPrediction> parts;
  parts.push_back(regress(bundle_, pixel_xy, features));
  for (auto& m : bundle_.members) parts.push_back(regress(m, pixel_xy, features));
  return combine_members(std::move(parts));
}

}  // namespace hiscmcl
