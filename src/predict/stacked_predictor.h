// predict.predictor = "stacked" (METHOD.md §8.11, §8.13): retrieval's prediction blended per gene
// with the fair ridge's (crops plus context means) that the model folder carries (ridge.h5), so
// `predict` on a new slide blends exactly as `cv` does. The sd is retrieval's.
#pragma once
#include "predict/gene_blend.h"
#include "predict/predictor.h"
#include "predict/retrieval_predictor.h"
#include "predict/stacked_ridge.h"

namespace hiscmcl {

class StackedPredictor : public Predictor {
 public:
  StackedPredictor(ModelBundle& bundle, const PredictConfig& pc, StackedRidge ridge, GeneBlend blend)
      : retrieval_(bundle, pc), ridge_(std::move(ridge)), blend_(std::move(blend)) {}
  SpotPrediction predict(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features) override;
  std::string describe() const override;

  // Both halves and the blend: cv scores retrieval alone beside the blend, on the same models.
  struct Parts {
    SpotPrediction retrieval;
    Matrix blended;
  };
  Parts predict_parts(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features);
  const GeneBlend& blend() const { return blend_; }

 private:
  RetrievalPredictor retrieval_;
  StackedRidge ridge_;
  GeneBlend blend_;
};

}  // namespace hiscmcl
