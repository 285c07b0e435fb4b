// The side-car JSON of a TorchScript encoder (<model>.json or <model minus extension>.json): how
// to feed the model. Pure parsing, no LibTorch, so it lives in hiscmcl_core (and is fuzzed).
//   {"input_size": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
//    "output_dim": 1024}
// Every key is optional; absent keys keep the defaults passed in; an unknown key is refused, naming
// the nearest valid one (a misspelt "inputsize" would silently feed 224 px crops).
// Also what identifies a TorchScript encoder's features for the feature cache's key.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hiscmcl {

struct TorchscriptSidecar {
  int input_size = 224;
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  int64_t output_dim = 0;  // 0: probe with one forward
};

// The largest input_size accepted: ViT and CNN encoders take 224-518 px; a 2048 px crop is already
// 50 MB of float32 per crop (a batch of 32: 1.6 GB), and larger values are slide pixels, a typo.
constexpr int kMaxTorchscriptInputSize = 2048;

// InputError naming `file` on invalid JSON, a non-object, an unknown key, a non-positive or
// out-of-range input_size (at most kMaxTorchscriptInputSize) / output_dim, a mean/std that is not 3 finite numbers, or a std value <= 0.
TorchscriptSidecar parse_torchscript_sidecar(std::string_view json_text, const std::string& file,
                                             const TorchscriptSidecar& defaults);
// Reads `file`, then parse_torchscript_sidecar.
TorchscriptSidecar read_torchscript_sidecar(const std::string& file,
                                            const TorchscriptSidecar& defaults);

// The side-car of a model file: <file>.json, else <file minus extension>.json; empty when neither
// exists.
std::string find_torchscript_sidecar(const std::string& model_path);

// Everything a TorchScript encoder's features depend on besides the crops, for the feature cache's
// key: the model file's content hash (a model copied over in place with its size and mtime kept,
// cp -p, is a different model on the next run) and the side-car's path and content (its mean, std
// or input_size change every feature). The hash is computed once per process per file version
// (path, size, mtime).
nlohmann::json torchscript_cache_inputs(const std::string& model_path);

}  // namespace hiscmcl
