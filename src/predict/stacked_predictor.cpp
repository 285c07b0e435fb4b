#include "predict/stacked_predictor.h"

#include <cstdio>

namespace hiscmcl {

StackedPredictor::Parts StackedPredictor::predict_parts(const std::vector<std::array<double, 2>>& pixel_xy,
                                                        const SectionFeatures& features) {
  Parts p{retrieval_.predict(pixel_xy, features), Matrix()};
  p.blended = stack_prediction(ridge_, blend_, p.retrieval.mean, pixel_xy, features);
  return p;
}

SpotPrediction StackedPredictor::predict(const std::vector<std::array<double, 2>>& pixel_xy,
                                         const SectionFeatures& features) {
  Parts p = predict_parts(pixel_xy, features);
  return {std::move(p.blended), std::move(p.retrieval.sd)};
}

std::string StackedPredictor::describe() const {
  char weight[32];
  std::snprintf(weight, sizeof weight, "%.2f", blend_.mean_weight());
  return "stacked: " + retrieval_.describe() + ", blended per gene with the fair ridge (alpha " +
         std::to_string(ridge_.ridge.alpha) + ", retrieval's mean weight " + weight + ")";
}

}  // namespace hiscmcl
