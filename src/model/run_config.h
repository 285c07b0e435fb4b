// Everything a run needs besides the data: encoder, model, loss, training and prediction settings.
// Read from a TOML config (configs/default.toml, configs/reference.toml); unknown keys are errors so
// a typo never silently falls back to a default. Stored with each model as JSON.
// The defaults below are configs/default.toml's settings (the best measured on CPU) except
// train.ensemble (1 here, 2 there); the reference preset is configs/reference.toml.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace hiscmcl {

struct EncoderConfig {
  std::string name = "histo";      // histo | resnet18 | resnet50 | densenet121 | torchscript:<file>
  std::string weights;             // CNN weight file ("" = seeded random init)
  double spot_fov = 1.0;           // spot-level crop side, in spot diameters
  double neighbourhood_fov = 3.0;  // neighbourhood crop side, in spot diameters
  int compat_crop_px = 0;          // > 0: fixed pixel crops like the reference (224), fov ignored
  std::string upsampled_scales;    // reference multi-scale: e.g. "224,672" (same crop, upsampled)
  std::string img_norm = "imagenet";
  int batch_size = 32;
  std::string device = "cpu";
};

struct ModelConfig {
  std::string fusion = "hierarchical";  // hierarchical (spec §3.8 H1) | multiscale (§3.6) | spot
  int64_t d_model = 256;                // width of the image-side fusion
  int64_t proj_dim = 256;               // shared embedding size P
  int64_t fusion_heads = 8;
  int n_neighbours = 9;                 // neighbourhood tokens: nearest spots (self included)
  int n_global = 49;                    // global tokens: nearest spots (self included)
  bool scale_gate = false;              // multiscale: softmax gate over scales
  double fusion_dropout = 0.0;
  std::string spot_context = "batch";   // batch (reference) | spatial (neighbours; batch-independent)
  int spot_context_size = 9;            // spatial: spots attended (self included)
  int64_t spot_layers = 2;
  int64_t spot_heads = 8;
  int64_t spot_head_dim = 64;
  double spot_dropout = 0.0;
  bool position_embedding = false;  // the reference: true
  double input_dropout = 0.0;           // dropout on the (standardised) image features, training only
  bool regression_head = false;  // an MLP from the image embedding to expression, trained beside the loss
};

struct LossConfig {
  double temperature = 0.1;
  bool learn_temperature = true;
  bool l2_normalize = true;
  double regression_weight = 1.0;  // with model.regression_head: loss += w * MSE(head, expression)
};

struct TrainConfig {
  std::string mode = "frozen";  // frozen (cached features) | end_to_end (CNN trunk trained)
  int epochs = 50;
  int batch_size = 128;
  double lr = 1e-3;
  double weight_decay = 1e-3;   // coupled L2 (Adam), as the reference
  int accumulation = 4;
  uint64_t seed = 0;
  bool drop_last = false;
  bool augment = true;          // end_to_end only (spec §2.9)
  int ensemble = 1;             // frozen: models trained with seeds seed, seed+1, ...; predictions averaged
  // Negative control: pair each training spot's image with another spot's expression. A model
  // that learns real signal must then predict nothing (mean PCC ~ 0).
  bool permute_pairs = false;
};

struct PredictConfig {
  int k = 200;
  std::string distance = "L1";     // L1 | L2 (weights 1/d²)
  // compat: chunks of key_chunk over the section order | per_section | averaged: the mean over
  // key_rounds random mixed chunkings (as training batches)
  std::string key_context = "compat";
  int key_chunk = 128;  // = train.batch_size; the reference: 32
  int key_rounds = 8;   // key_context = averaged: random mixed chunkings averaged per key
  std::string weighting = "inverse_square";  // inverse_square (the paper: 1/d²) | softmax
  double softmax_temperature = 0;
  // retrieval (the paper's) | regression (model.regression_head's output, on the training
  // normalisation's scale)
  std::string predictor = "retrieval";  // softmax weighting: 0 = the model's (learned) temperature
  double ridge_alpha = 0;          // 0: chosen by leave-one-section-out among a grid
  // Retrieved expression with each training section's gene means replaced by the mean over all
  // training spots (eval/retrieval.h centre_groups): neighbours then carry no section offset.
  bool centre_sections = false;
  // What the query image embedding is compared with: the training spots' expression embeddings
  // (expression, the paper's) | their image embeddings (image) | both (the sum of the two unit
  // vectors, so cosine weighs the two alike).
  std::string keys = "expression";
};

struct DataConfig {
  std::string normalization = "per_spot";  // training input
  std::string eval_norm = "per_spot";      // truth and retrieved keys: per_spot | per_gene_compat
};

// "224,672" -> {224, 672}: the first is the crop as cut, the others its bilinear upsamplings
// (spec §3.6). "" -> {}. InputError (naming encoder.upsampled_scales) unless >= 2 positive integers.
std::vector<int> upsampled_scale_list(const std::string& text);

struct RunConfig {
  std::string name = "default";
  EncoderConfig encoder;
  ModelConfig model;
  LossConfig loss;
  TrainConfig train;
  PredictConfig predict;
  DataConfig data;
};

RunConfig load_run_config(const std::filesystem::path& toml_path);  // InputError on bad keys/values
RunConfig run_config_from_json(const nlohmann::json& j);
nlohmann::json to_json(const RunConfig& c);

}  // namespace hiscmcl
