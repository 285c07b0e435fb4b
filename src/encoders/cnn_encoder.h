// Factories for the LibTorch-backed encoders, behind the torch-free Encoder interface.
//   make_cnn_encoder("resnet18" | "resnet50" | "densenet121" | "small_cnn", opt): built-in trunk, random init
//     seeded by opt.seed or loaded from opt.weights; eval mode, batches of opt.batch_size,
//     opt.device; CPU inference through oneDNN when opt.use_onednn.
//   make_torchscript_encoder(path, opt): any traced model plus its side-car JSON
//     (<file>.json or <file minus extension>.json): {"input_size": 224, "mean": [3], "std": [3],
//     "output_dim": D (optional: probed with one forward)}.
#pragma once
#include <memory>
#include <string>

#include "encoders/encoder.h"

namespace hiscmcl {

std::unique_ptr<Encoder> make_cnn_encoder(const std::string& arch, const EncoderOptions& opt);
std::unique_ptr<Encoder> make_torchscript_encoder(const std::string& path, const EncoderOptions& opt);

}  // namespace hiscmcl
