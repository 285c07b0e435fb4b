// Spots of one or more sections as tensors for the model: standardised image features at each
// level, each spot's nearest-spot index lists (neighbourhood, global, spatial context), and — for
// training sections — the expression and array coordinates. Indices are global over the
// concatenation of the sections, in the order given; neighbours never cross sections.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "io/section.h"
#include "encoders/section_features.h"
#include "model/image_branch.h"
#include "config/run_config.h"

namespace hiscmcl {

// Per-level standardisation (z-score) fitted on the training spots; sd 0 -> 1. End-to-end
// models carry identity statistics (mean 0, sd 1): their trunk learns its own scale.
struct FeatureStats {
  std::vector<std::string> levels;
  std::vector<torch::Tensor> mean, sd;  // per level, [D]
  torch::Tensor standardise(const std::string& level, const torch::Tensor& x) const;
};

struct FeatureTensors {
  torch::Tensor spot;           // [N, D] standardised
  torch::Tensor neighbourhood;  // [N, D] standardised
  std::vector<torch::Tensor> scales;  // [N, D] standardised, per multiscale level (multiscale)
  torch::Tensor neighbours;     // [N, n] int64
  torch::Tensor global;         // [N, m] int64
  torch::Tensor context;        // [N, K] int64 (spatial spot context)
  torch::Tensor expression;     // [N, G] (training sections only; undefined otherwise)
  torch::Tensor xy;             // [N, 2] int64 array coordinates
  std::vector<std::string> section_ids;
  std::vector<int64_t> offsets;  // section s = rows [offsets[s], offsets[s+1])

  int64_t size() const { return offsets.back(); }
  // Image-branch inputs of the rows idx.
  ImageInputs image_inputs(const torch::Tensor& idx, Fusion fusion) const;
};

// Statistics of every level the features carry.
FeatureStats fit_feature_stats(const std::vector<SectionFeatures>& features);
FeatureStats identity_feature_stats(const std::vector<std::string>& levels, int64_t dim);

// sections and features in the same order. with_expression: take expression from sections.
// features may be empty (end-to-end training): the image tensors are then left undefined.
FeatureTensors build_feature_tensors(const std::vector<const PreparedSection*>& sections,
                                     const std::vector<SectionFeatures>& features,
                                     const FeatureStats& stats, const RunConfig& cfg,
                                     bool with_expression);

// Rows of a Matrix as a float tensor (copy) and back.
torch::Tensor to_tensor(const Matrix& m);
Matrix to_matrix(const torch::Tensor& t);

}  // namespace hiscmcl
