// Frozen-feature training of HisCMCL (METHOD.md §7.3): encoder features come from the cache; the
// image branch (fusion + head) and the spot branch (position tables, transformer, head) are trained
// with the symmetric contrastive loss. Adam with coupled weight decay, shuffled batches, gradient
// accumulation, fixed seeds. After training the training spots' expression embeddings (the
// retrieval keys) are computed in the configured key context.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/progress.h"
#include "train/model_bundle.h"

namespace hiscmcl {

struct EpochLog {
  int epoch = 0;
  double loss = 0, seconds = 0, spots_per_s = 0, temperature = 1;
};

struct TrainResult {
  ModelBundle bundle;
  std::vector<EpochLog> log;
  double seconds = 0;
};

// sections[i] and features[i] describe the same training section.
TrainResult train_frozen(const std::vector<const PreparedSection*>& sections,
                         const std::vector<SectionFeatures>& features, const RunConfig& cfg);

// Pieces shared by the frozen and end-to-end trainers.
// The bundle's config, panel, training sections and geometry (median spot diameter, µm/px).
void init_bundle(ModelBundle& b, const std::vector<const PreparedSection*>& sections,
                 const RunConfig& cfg);
// Negative control: a fixed random derangement of expression (and positions) against images.
void permute_pairs(FeatureTensors& t, uint64_t seed);
void set_model_shape(ModelBundle& b, const FeatureTensors& t, int64_t feature_dim);
// Keys: the training spots' embeddings chosen by predict.keys (expression, image or both), and
// their expression on the evaluation scale.
void set_retrieval_keys(ModelBundle& b, const FeatureTensors& t,
                        const std::vector<const PreparedSection*>& sections);
// Spot-branch embeddings of the rows idx in the configured spot context (training forward).
// global_batch > 0 (batch context, distributed): idx is this rank's slice of a global batch of that
// many rows, whose other slices the other ranks pass at the same time.
torch::Tensor spot_forward(HisCMCLModel& model, const FeatureTensors& t, const torch::Tensor& idx,
                           const RunConfig& cfg, int64_t global_batch = 0);

void write_train_log(const std::filesystem::path& path, const std::vector<EpochLog>& log);

// Spot-branch embeddings of every row of t (which must carry expression), in the key context:
// batch context: chunks of cfg.predict.key_chunk over the concatenated order (compat) or within
// each section (per_section); spatial context: each spot with its neighbours.
torch::Tensor spot_embeddings(HisCMCLModel& model, const FeatureTensors& t, const RunConfig& cfg);
// Image-branch embeddings of every row of t. Distributed, split over the ranks: every rank calls it.
torch::Tensor image_embeddings(HisCMCLModel& model, const FeatureTensors& t, const RunConfig& cfg);

}  // namespace hiscmcl
