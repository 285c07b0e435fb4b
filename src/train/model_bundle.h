// MODEL/: everything `predict` needs, written by `train`:
//   model.pt        the HisCMCL module's parameters and buffers (torch::save)
//   tensors.pt      feature standardisation, retrieval keys (training spots' expression
//                   embeddings) and their measured expression
//   model.json      resolved config, model shape, gene panel, normalisation, encoder, key sections,
//                   training geometry (spot diameter, µm/px)
//   trunk.pt        end-to-end models only: the fine-tuned CNN trunk (a plain-dict weight file
//                   as encoders/cnn.h reads), which replaces the configured encoder at prediction
//   member_<i>/     train.ensemble > 1: the other members, each a complete bundle of this layout
//   train_log.csv   epoch,loss,seconds,spots_per_s,temperature
//   keys.ivf        predict.index = "ivf" at training: the approximate key index (faiss format,
//                   predict/key_index.h), written beside the bundle by save_key_index
//   ridge.h5        frozen models: the fair ridge (and any fitted per-gene blend) of
//                   predict.predictor = "stacked", written beside the bundle (predict/stacked_ridge.h)
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "model/hiscmcl_model.h"
#include "encoders/cnn.h"
#include "config/run_config.h"
#include "io/manifest.h"
#include "train/feature_tensors.h"

namespace hiscmcl {

struct ModelBundle {
  RunConfig config;
  ModelShape shape;
  std::vector<std::string> genes;
  std::string normalization;       // training input normalisation
  std::vector<std::string> train_sections;
  std::vector<MarkerSet> marker_sets;  // the store's, of panel genes: drawn and scored by `predict`
  std::vector<int64_t> key_offsets;  // per training section in the key matrices
  double spot_diameter_px = 0;     // median over training sections
  double um_per_px = 0;
  FeatureStats stats;
  torch::Tensor key_embeddings;    // [Nk, P]
  torch::Tensor key_expression;    // [Nk, G] (config.data.eval_norm)
  HisCMCLModel model{nullptr};
  CnnTrunk trunk{nullptr};         // end-to-end models: the trained trunk (else null)
  // train.ensemble > 1: the members trained with seeds seed + 1, seed + 2, ...; predictions are
  // the mean of every member's (this bundle is member 0).
  std::vector<ModelBundle> members;
  std::filesystem::path dir;  // the folder it was loaded from (empty: trained in this process)

  std::vector<std::string> marker_genes() const;  // of every set, in order, each once
};

void save_model_bundle(const std::filesystem::path& dir, ModelBundle& b);  // atomic folder
// Where a bundle saved in dir keeps its ensemble member m (0-based): dir/member_<m + 1>.
std::filesystem::path member_dir(const std::filesystem::path& dir, size_t m);
// Sets b.dir and its members' after the bundle's folder is committed there, so that what was
// saved beside it (keys.ivf) is found instead of made again.
void set_bundle_dir(ModelBundle& b, const std::filesystem::path& dir);
ModelBundle load_model_bundle(const std::filesystem::path& dir);          // InputError if bad

}  // namespace hiscmcl
