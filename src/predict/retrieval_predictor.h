// The paper's predictor (METHOD.md §8.1–8.3): a query spot's image embedding is compared with the
// keys stored in the model (the training spots' expression embeddings in the paper; their image
// embeddings with predict.keys = "image"); the prediction is the 1/d²-weighted mean of the top-k
// keys' measured expression (retrieval.h does the maths, key_index.h the top-k search).
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "common/matrix.h"
#include "io/section.h"
#include "encoders/section_features.h"
#include "predict/predictor.h"
#include "train/model_bundle.h"

namespace hiscmcl {

// The paper's predictor over a model and the settings it runs under (k, distance, weighting,
// centring, the key index). An ensemble bundle predicts the mean of its members' predictions.
class RetrievalPredictor : public Predictor {
 public:
  RetrievalPredictor(ModelBundle& bundle, const PredictConfig& pc) : bundle_(bundle), pc_(pc) {}
  SpotPrediction predict(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features) override;
  std::string describe() const override;

 private:
  ModelBundle& bundle_;
  PredictConfig pc_;
};

// The bundle with training section `section`'s keys left out, in every ensemble member: what
// retrieval predicts for that section from the other training sections (the inner
// cross-validation of predict.predictor = "stacked"). Shares the trained modules; the key index is
// built anew. std::invalid_argument for a section the bundle does not have.
ModelBundle without_training_section(const ModelBundle& bundle, size_t section);

class KeyIndex;
// The top-k search over a bundle's keys that `pc` asks for: exact, or ivf, loaded from the model
// folder's keys.ivf when that was made with the same number of lists, else built.
std::unique_ptr<KeyIndex> key_index_for(const ModelBundle& bundle, const Matrix& keys, const PredictConfig& pc);
// Writes keys.ivf (and each member's) into model_dir when the bundle's training config asks for
// ivf: the index is built once, at training. Call before the model folder is committed.
void save_key_index(const std::filesystem::path& model_dir, const ModelBundle& bundle);

}  // namespace hiscmcl
