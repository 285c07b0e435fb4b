#include "predict/predictor.h"

#include "common/log.h"
#include "predict/regression_predictor.h"
#include "predict/retrieval_predictor.h"
#include "predict/stacked_predictor.h"

namespace hiscmcl {

std::unique_ptr<Predictor> make_predictor(ModelBundle& bundle, const PredictConfig& pc,
                                          const std::optional<StackedRidge>& ridge, const std::string& source) {
  switch (pc.predictor) {
    case PredictorKind::regression: return std::make_unique<RegressionPredictor>(bundle);
    case PredictorKind::retrieval: return std::make_unique<RetrievalPredictor>(bundle, pc);
    case PredictorKind::stacked: break;
  }
  std::optional<GeneBlend> blend = ridge ? stack_blend(*ridge, pc, bundle.genes.size()) : std::nullopt;
  if (!blend) {
    spdlog::warn("{}: predict.predictor = \"stacked\", but the model folder has no {}: this slide is predicted by "
                 "retrieval alone", source, ridge ? "per-gene blend fitted under its settings" : "ridge.h5");
    return std::make_unique<RetrievalPredictor>(bundle, pc);
  }
  return std::make_unique<StackedPredictor>(bundle, pc, *ridge, std::move(*blend));
}

}  // namespace hiscmcl
