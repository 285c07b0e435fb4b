// The paper's predictor (METHOD.md §8.1–8.3): a query spot's image embedding is compared with the
// keys stored in the model (the training spots' expression embeddings in the paper; their image
// embeddings with predict.keys = "image"); the prediction is the 1/d²-weighted mean of the top-k
// keys' measured expression (eval/retrieval.h does the maths).
#pragma once
#include <vector>

#include "common/matrix.h"
#include "io/section.h"
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

}  // namespace hiscmcl
