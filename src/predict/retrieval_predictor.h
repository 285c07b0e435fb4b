// The paper's predictor (spec §6): a query spot's image embedding is compared with the keys stored
// in the model (the training spots' expression embeddings in the paper; their image embeddings with
// predict.keys = "image"); the prediction is the 1/d²-weighted mean of the top-k keys' measured
// expression (eval/retrieval.h does the maths).
#pragma once
#include <vector>

#include "data/matrix.h"
#include "data/section.h"
#include "encoders/section_features.h"
#include "train/model_bundle.h"

namespace hiscmcl {

class RetrievalPredictor {
 public:
  explicit RetrievalPredictor(ModelBundle& bundle) : bundle_(bundle) {}
  // Query spots of one section: its pixel centres (for neighbour tokens) and features. An
  // ensemble bundle predicts the mean of its members' predictions.
  Matrix predict(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features);
  // Member 0's image embeddings.
  Matrix image_embeddings(const std::vector<std::array<double, 2>>& pixel_xy,
                          const SectionFeatures& features);

 private:
  Matrix predict_member(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features);
  ModelBundle& bundle_;
};

// Ridge-baseline design matrix from the same image features: the spot and neighbourhood features
// plus the means of the 9 and 49 nearest spots' spot features (raw, unstandardised; the ridge
// standardises with training statistics).
Matrix baseline_features(const std::vector<std::array<double, 2>>& pixel_xy,
                         const SectionFeatures& features);

}  // namespace hiscmcl
