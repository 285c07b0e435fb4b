// The model's regression head (predict.predictor = "regression"; model.regression_head): the
// query's image embedding mapped straight to expression. Its sd is only an ensemble's
// disagreement (0 for one model).
#pragma once
#include "predict/predictor.h"
#include "train/model_bundle.h"

namespace hiscmcl {

class RegressionPredictor : public Predictor {
 public:
  explicit RegressionPredictor(ModelBundle& bundle) : bundle_(bundle) {}
  SpotPrediction predict(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features) override;
  std::string describe() const override { return "regression head"; }

 private:
  ModelBundle& bundle_;
};

}  // namespace hiscmcl
