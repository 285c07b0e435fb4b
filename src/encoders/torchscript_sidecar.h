// The side-car JSON of a TorchScript encoder (<model>.json or <model minus extension>.json): how
// to feed the model. Pure parsing, no LibTorch, so it lives in hiscmcl_core (and is fuzzed).
//   {"input_size": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
//    "output_dim": 1024}
// Every key is optional; absent keys keep the defaults passed in.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hiscmcl {

struct TorchscriptSidecar {
  int input_size = 224;
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  int64_t output_dim = 0;  // 0: probe with one forward
};

// InputError naming `file` on invalid JSON, a non-object, a non-positive or out-of-range
// input_size / output_dim, a mean/std that is not 3 finite numbers, or a std value <= 0.
TorchscriptSidecar parse_torchscript_sidecar(std::string_view json_text, const std::string& file,
                                             const TorchscriptSidecar& defaults);
// Reads `file`, then parse_torchscript_sidecar.
TorchscriptSidecar read_torchscript_sidecar(const std::string& file,
                                            const TorchscriptSidecar& defaults);

}  // namespace hiscmcl
