// TorchscriptEncoder: any traced / scripted model (UNI, CONCH, a ResNet ...) plus a side-car
// JSON saying how to feed it. Output: the first tensor the model returns, flattened to [B, D].
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "encoders/cnn.h"
#include "encoders/cnn_encoder.h"
#include "encoders/image_tensor.h"

namespace hiscmcl {
namespace {

namespace fs = std::filesystem;

struct SidecarConfig {
  int input_size = 224;
  ImageNormalization norm = imagenet_normalization();
  int64_t output_dim = 0;  // 0: probe with one forward
};

// <file>.json, else <file minus extension>.json; empty when neither exists.
std::string find_sidecar(const std::string& model_path) {
  fs::path p(model_path);
  fs::path a = p.string() + ".json";
  if (fs::exists(a)) return a.string();
  fs::path b = p;
  b.replace_extension(".json");
  if (b != p && fs::exists(b)) return b.string();
  return {};
}

std::array<float, 3> read_triplet(const nlohmann::json& j, const char* key, const std::string& file,
                                  std::array<float, 3> fallback) {
  if (!j.contains(key)) return fallback;
  const auto& v = j.at(key);
  if (!v.is_array() || v.size() != 3)
    throw InputError(file, std::string("\"") + key + "\" must be an array of 3 numbers");
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    if (!v[i].is_number())
      throw InputError(file, std::string("\"") + key + "\" must be an array of 3 numbers");
    out[i] = v[i].get<float>();
  }
  return out;
}

SidecarConfig read_sidecar(const std::string& file) {
  SidecarConfig cfg;
  std::ifstream in(file);
  if (!in) throw InputError(file, "cannot open the side-car JSON");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(file, "expected a JSON object");
  if (j.contains("input_size")) {
    if (!j["input_size"].is_number_integer() || j["input_size"].get<int>() <= 0)
      throw InputError(file, "\"input_size\" must be a positive integer");
    cfg.input_size = j["input_size"].get<int>();
  }
  cfg.norm.mean = read_triplet(j, "mean", file, cfg.norm.mean);
  cfg.norm.std = read_triplet(j, "std", file, cfg.norm.std);
  for (float s : cfg.norm.std)
    if (!(s > 0.f)) throw InputError(file, "\"std\" values must be positive");
  if (j.contains("output_dim")) {
    if (!j["output_dim"].is_number_integer() || j["output_dim"].get<int64_t>() <= 0)
      throw InputError(file, "\"output_dim\" must be a positive integer");
    cfg.output_dim = j["output_dim"].get<int64_t>();
  }
  return cfg;
}

// The first tensor of whatever the model returns (tensor, tuple or list), as [B, D].
torch::Tensor first_tensor(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple())
    for (const auto& e : v.toTupleRef().elements())
      if (e.isTensor()) return e.toTensor();
  if (v.isList())
    for (const auto& e : v.toListRef())
      if (e.isTensor()) return e.toTensor();
  throw std::runtime_error("the TorchScript model returned no tensor");
}

class TorchscriptEncoder : public Encoder {
 public:
  TorchscriptEncoder(const std::string& path, const EncoderOptions& opt)
      : path_(path), device_(encoder_device(opt.device)), batch_size_(std::max(1, opt.batch_size)) {
    if (!fs::exists(path)) throw InputError(path, "TorchScript model file not found");
    const std::string sidecar = find_sidecar(path);
    if (sidecar.empty())
      spdlog::warn("{}: no side-car JSON ({}.json); assuming 224 px and ImageNet mean/std", path,
                   path);
    else
      cfg_ = read_sidecar(sidecar);
    try {
      module_ = torch::jit::load(path, device_);
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      throw InputError(path, "not a TorchScript archive (torch.jit.trace/script + save): " +
                                 msg.substr(0, msg.find('\n')));
    }
    module_.eval();
    dim_ = cfg_.output_dim;
    if (dim_ == 0) {  // probe with one black crop
      torch::Tensor y = forward(torch::zeros({1, 3, cfg_.input_size, cfg_.input_size}));
      dim_ = y.size(1);
    }
  }

  std::string name() const override { return "torchscript:" + path_; }
  int input_size() const override { return cfg_.input_size; }
  int64_t dim() const override { return dim_; }

  Matrix embed(const std::vector<cv::Mat>& crops) override {
    Matrix out(int64_t(crops.size()), dim_);
    for (size_t start = 0; start < crops.size(); start += size_t(batch_size_)) {
      const size_t end = std::min(crops.size(), start + size_t(batch_size_));
      std::vector<cv::Mat> batch(crops.begin() + long(start), crops.begin() + long(end));
      torch::Tensor y = forward(crops_to_tensor(batch, cfg_.input_size, cfg_.norm));
      if (y.size(1) != dim_)
        throw InputError(path_, "model output has " + std::to_string(y.size(1)) +
                                    " features, the side-car JSON says output_dim " +
                                    std::to_string(dim_));
      std::copy(y.data_ptr<float>(), y.data_ptr<float>() + y.numel(), out.row(int64_t(start)));
    }
    return out;
  }

 private:
  // x: CPU [B,3,S,S] -> CPU float contiguous [B,D].
  torch::Tensor forward(const torch::Tensor& x) {
    torch::NoGradGuard no_grad;
    torch::Tensor y;
    try {
      y = first_tensor(module_.forward({x.to(device_)}));
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      throw InputError(path_, "forward on a [B,3," + std::to_string(cfg_.input_size) + "," +
                                  std::to_string(cfg_.input_size) +
                                  "] batch failed: " + msg.substr(0, msg.find('\n')));
    }
    if (y.dim() < 1 || y.size(0) != x.size(0))
      throw InputError(path_, "model output does not have one row per input crop");
    return y.reshape({x.size(0), -1}).to(torch::kCPU, torch::kFloat32).contiguous();
  }

  std::string path_;
  torch::Device device_;
  int batch_size_;
  SidecarConfig cfg_;
  torch::jit::script::Module module_;
  int64_t dim_ = 0;
};

}  // namespace

std::unique_ptr<Encoder> make_torchscript_encoder(const std::string& path,
                                                  const EncoderOptions& opt) {
  return std::make_unique<TorchscriptEncoder>(path, opt);
}

}  // namespace hiscmcl
