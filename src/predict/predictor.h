// The prediction seam: a query section's spot centres and image features in, expression and its
// per-spot uncertainty out. One implementation a file, as KeyIndex has:
//   retrieval_predictor.h   the paper's: the nearest training spots' measured expression
//   regression_predictor.h  the model's regression head
//   stacked_predictor.h     retrieval blended per gene with the model folder's fair ridge
// make_predictor builds the one a PredictConfig names. The PredictConfig is passed in: a model
// folder records the settings it was trained under (ModelBundle::config), and a prediction may run
// under others (`predict --set predict.k=50`, a cv run's settings) without editing the model.
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "config/run_config.h"
#include "encoders/section_features.h"

namespace hiscmcl {

struct ModelBundle;
struct StackedRidge;

// Spots x genes: the prediction and its per-spot sd (retrieval: the weighted sd of the retrieved
// neighbours; an ensemble adds its members' disagreement, by the law of total variance).
struct SpotPrediction {
  Matrix mean, sd;
};

class Predictor {
 public:
  virtual ~Predictor() = default;
  virtual SpotPrediction predict(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features) = 0;
  virtual std::string describe() const = 0;  // for logs and the settings written beside a prediction
};

// The predictor `pc.predictor` names over a loaded model. Stacked needs the model folder's ridge
// (load_stacked_ridge) fitted under a blend `pc` can use; without one it is retrieval alone, with
// a warning naming `source` (the model folder).
std::unique_ptr<Predictor> make_predictor(ModelBundle& bundle, const PredictConfig& pc,
                                          const std::optional<StackedRidge>& ridge, const std::string& source);

// An ensemble's prediction from its members' (one member: itself): the mean, and the sd by the
// law of total variance (mean of the members' sd² plus the variance of their means).
SpotPrediction combine_members(std::vector<SpotPrediction> parts);

// The query spots' image embeddings under one (member) model: what is compared with its keys.
Matrix query_embeddings(ModelBundle& bundle, const std::vector<std::array<double, 2>>& pixel_xy,
                        const SectionFeatures& features);

}  // namespace hiscmcl
