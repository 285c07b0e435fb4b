// Spots of one or more sections as tensors for the model: standardised image features at each
// level, each spot's nearest-spot index lists (neighbourhood, global, spatial context), and — for
// training sections — the expression and array coordinates. Indices are global over the
// concatenation of the sections, in the order given; neighbours never cross sections.
//
// Image features are kept as stored (float32 or float16) and standardised with the same float32
// operations wherever they are read, so a row reads the same bits whether its level is resident
// or streamed: resident, one [N, D] table per level (float32 standardised once, float16 as rows are
// read); streamed (the tables would pass train.max_memory_gb), rows are read from each section's
// features, memory-mapped from the feature cache, and read pages are handed back as training
// goes, so memory stays flat however many spots there are.
#pragma once
#include <torch/torch.h>

#include <memory>
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

// One feature level of every row, standardised on reading. Copies share their storage.
class LevelRows {
 public:
  LevelRows() = default;
  // features[s] holds rows [offsets[s], offsets[s+1]); streamed: read from them on demand.
  LevelRows(const std::vector<const FeatureMatrix*>& features, const std::vector<int64_t>& offsets,
            torch::Tensor mean, torch::Tensor sd, bool streamed);
  bool defined() const { return state_ != nullptr; }
  bool streamed() const;
  int64_t dim() const;
  torch::Tensor rows(const torch::Tensor& idx) const;  // [R, D] float32, standardised

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct FeatureTensors {
  LevelRows spot, neighbourhood;  // hierarchical and spot fusion (undefined without features)
  std::vector<LevelRows> scales;  // per multiscale level (multiscale)
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
  // Every row the hierarchical tokens of the rows idx touch (sorted, distinct), read from the
  // index lists alone: no feature row is read to list them.
  torch::Tensor token_rows(const torch::Tensor& idx) const;
};

// Statistics of every level the features carry, accumulated section by section (float64).
FeatureStats fit_feature_stats(const std::vector<SectionFeatures>& features);
FeatureStats identity_feature_stats(const std::vector<std::string>& levels, int64_t dim);

// The memory the image tables may take before they are streamed: train.max_memory_gb, or half
// the machine's memory when it is 0.
int64_t feature_memory_budget_bytes(const TrainConfig& cfg);

// The feature levels the model's fusion reads, and whether build_feature_tensors will stream them
// (their bytes pass feature_memory_budget_bytes).
std::vector<std::string> fusion_levels(const RunConfig& cfg);
bool streams_image_features(const std::vector<SectionFeatures>& features, const RunConfig& cfg);

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
