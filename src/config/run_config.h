// Everything a run needs besides the data: encoder, model, loss, training and prediction settings.
// Each table's fields are listed once (the HISCMCL_*_FIELDS lists below): the structs, TOML/JSON
// reading and writing and equality are generated from those lists. The defaults are
// configs/default.toml's (embedded in the binary: default_run_config(); a test holds the two equal).
//
// Reading (TOML file, TOML text or JSON) refuses unknown keys, naming the nearest valid one, and
// wrong types; validate() then refuses impossible combinations before any work starts.
// Stored with each model as JSON (model.json), so a model says how it was made.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/choices.h"

namespace hiscmcl {

// X(type, name, default). Comments are C-style: these are macro continuation lines.
#define HISCMCL_ENCODER_FIELDS(X)                                                           \
  X(std::string, name, "histo")      /* histo | resnet18 | resnet50 | densenet121 | small_cnn | torchscript:<file> */ \
  X(std::string, weights, "")        /* CNN weight file ("" = seeded random init) */         \
  X(double, spot_fov, 1.0)           /* spot crop side, in spot diameters */                 \
  X(double, neighbourhood_fov, 3.0)  /* neighbourhood crop side, in spot diameters */        \
  X(int, compat_crop_px, 0)          /* > 0: fixed pixel crops like the reference (224) */   \
  X(std::string, upsampled_scales, "") /* e.g. "224,672": the crop, then its upsamplings */  \
  X(ImageNorm, img_norm, ImageNorm::imagenet)                                                \
  X(int, batch_size, 32)                                                                     \
  X(std::string, device, "cpu")      /* cpu | cuda | cuda:N */                               \
  X(bool, hest_patches, false)       /* HEST sections: spot crops from patches/<id>.h5 */    \
  X(FeatureDtype, feature_dtype, FeatureDtype::float32) /* cache and training tables; float16: half */ \
  X(FeatureNorm, feature_norm, FeatureNorm::per_section) /* per_section: z-scored over each section's spots */

#define HISCMCL_MODEL_FIELDS(X)                                                              \
  X(Fusion, fusion, Fusion::hierarchical)                                                    \
  X(int64_t, d_model, 256)           /* width of the image-side fusion */                    \
  X(int64_t, proj_dim, 256)          /* shared embedding size P */                           \
  X(int64_t, fusion_heads, 8)                                                                \
  X(int, n_neighbours, 9)            /* neighbourhood tokens: nearest spots, self included */ \
  X(int, n_global, 49)               /* global tokens: nearest spots, self included */       \
  X(bool, scale_gate, false)         /* multiscale: softmax gate over scales */              \
  X(double, fusion_dropout, 0.0)                                                             \
  X(SpotContext, spot_context, SpotContext::batch)                                           \
  X(int, spot_context_size, 9)       /* spatial: spots attended, self included */            \
  X(int64_t, spot_layers, 2)                                                                 \
  X(int64_t, spot_heads, 8)                                                                  \
  X(int64_t, spot_head_dim, 64)                                                              \
  X(double, spot_dropout, 0.0)                                                               \
  X(bool, position_embedding, false) /* the reference: true */                               \
  X(double, input_dropout, 0.0)      /* on the standardised image features, training only */ \
  X(bool, regression_head, false)    /* an MLP image embedding -> expression beside the loss */

#define HISCMCL_LOSS_FIELDS(X)                                                               \
  X(double, temperature, 0.1)                                                                \
  X(bool, learn_temperature, true)                                                           \
  X(bool, l2_normalize, true)                                                                \
  X(double, regression_weight, 1.0)  /* with model.regression_head: += w * MSE */

#define HISCMCL_TRAIN_FIELDS(X)                                                              \
  X(TrainMode, mode, TrainMode::frozen) /* frozen: cached features; end_to_end: trunk trained */ \
  X(int, epochs, 50)                                                                         \
  X(int, batch_size, 128)                                                                    \
  X(double, lr, 1e-3)                                                                        \
  X(double, weight_decay, 1e-3)      /* coupled L2 (Adam), as the reference */               \
  X(int, accumulation, 4)                                                                    \
  X(uint64_t, seed, 0)               /* also seeds randomly initialised CNN encoders */      \
  X(bool, drop_last, false)                                                                  \
  X(bool, augment, true)             /* end_to_end only (METHOD.md) */                       \
  X(int, ensemble, 2)                /* frozen: members seeded seed, seed+1, ...; averaged */ \
  X(bool, permute_pairs, false)      /* negative control: images paired with other spots */ \
  X(double, max_memory_gb, 0.0)      /* image tables past this stream from the cache; 0: half the RAM */

#define HISCMCL_PREDICT_FIELDS(X)                                                            \
  X(int, k, 200)                                                                             \
  X(Distance, distance, Distance::L1) /* weights 1/d² */                                     \
  X(KeyContext, key_context, KeyContext::compat)                                             \
  X(int, key_chunk, 128)             /* keys in chunks of the training batch; reference 32 */ \
  X(int, key_rounds, 8)              /* key_context = averaged: random chunkings averaged */  \
  X(Weighting, weighting, Weighting::inverse_square)                                         \
  X(double, softmax_temperature, 0.0) /* 0: the model's learned temperature */               \
  X(PredictorKind, predictor, PredictorKind::stacked)                                        \
  X(double, ridge_alpha, 0.0)        /* 0: chosen by leave-one-section-out over a grid */    \
  X(bool, centre_sections, true)     /* retrieved expression without section gene means */   \
  X(RetrievalKeys, keys, RetrievalKeys::image) /* what a query image embedding is compared with */ \
  X(KeyIndexKind, index, KeyIndexKind::flat) /* top-k search: exact, or approximate (ivf) */  \
  X(int, nlist, 0)                   /* ivf lists; 0: 4 sqrt(keys), at most keys / 39 */      \
  X(int, nprobe, 32)                 /* ivf lists visited per query */                       \
  X(int, regions, 6)                 /* k-means tissue regions of a prediction; 0 = none */    \
  X(double, stack_weight, 0.5)       /* stacked: retrieval's weight; -1 = fitted per gene */

#define HISCMCL_DATA_FIELDS(X)                                                               \
  X(Normalization, normalization, Normalization::per_spot) /* training input */              \
  X(Normalization, eval_norm, Normalization::per_spot)     /* truth and retrieved values */

#define HISCMCL_DECLARE_FIELD(type, name, def) type name = def;
struct EncoderConfig {
  HISCMCL_ENCODER_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const EncoderConfig& o) const;
};
struct ModelConfig {
  HISCMCL_MODEL_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const ModelConfig& o) const;
};
struct LossConfig {
  HISCMCL_LOSS_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const LossConfig& o) const;
};
struct TrainConfig {
  HISCMCL_TRAIN_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const TrainConfig& o) const;
};
struct PredictConfig {
  HISCMCL_PREDICT_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const PredictConfig& o) const;
};
struct DataConfig {
  HISCMCL_DATA_FIELDS(HISCMCL_DECLARE_FIELD)
  bool operator==(const DataConfig& o) const;
};
#undef HISCMCL_DECLARE_FIELD

struct RunConfig {
  std::string name = "default";
  EncoderConfig encoder;
  ModelConfig model;
  LossConfig loss;
  TrainConfig train;
  PredictConfig predict;
  DataConfig data;
  bool operator==(const RunConfig& o) const;
  bool operator!=(const RunConfig& o) const { return !(*this == o); }
};

// Readers: each throws InputError naming `source` (the file) and the key on unknown keys (with the
// nearest valid key), wrong types, bad choices and failed validate().
RunConfig load_run_config(const std::filesystem::path& toml_path);
RunConfig parse_run_config_toml(const std::string& toml_text, const std::string& source);
RunConfig run_config_from_json(const nlohmann::json& j, const std::string& source = "model.json");
nlohmann::json to_json(const RunConfig& c);

// `--set table.key=value` (repeatable) over a config: the one place every command-line override
// goes through, validated as a config file is (unknown keys name the nearest valid one). A value
// is read as TOML (numbers, true/false, "strings"); a bare word is a string (predict.index=ivf).
RunConfig with_overrides(const RunConfig& c, const std::vector<std::string>& sets);
// Over a trained model's config: only predict.* settings that act when predicting; the ones fixed
// at training (keys, key_context, key_chunk, key_rounds, ridge_alpha) are refused naming `model`.
RunConfig with_predict_overrides(const RunConfig& trained, const std::vector<std::string>& sets,
                                 const std::string& model);

// configs/default.toml as built into the binary, parsed.
RunConfig default_run_config();
const std::string& default_config_toml();

// Impossible combinations (InputError naming `source` and the keys involved).
void validate(const RunConfig& c, const std::string& source);

// The settings each stage's output depends on, for cache keys: a changed value here means that
// stage must be recomputed (common/stage_key.h hashes them).
nlohmann::json embed_settings(const EncoderConfig& e, uint64_t seed);
nlohmann::json train_settings(const RunConfig& c);    // encoder, model, loss, train, data
nlohmann::json predict_settings(const RunConfig& c);  // predict, data.eval_norm

// "224,672" -> {224, 672}: the first is the crop as cut, the others its bilinear upsamplings.
// "" -> {}. InputError (naming encoder.upsampled_scales) unless >= 2 positive integers.
std::vector<int> upsampled_scale_list(const std::string& text);

// The valid key nearest to `key` by edit distance (for "did you mean").
std::string nearest_key(const std::string& key, const std::vector<std::string>& valid);

}  // namespace hiscmcl
