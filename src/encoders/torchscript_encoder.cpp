// TorchscriptEncoder: any traced / scripted model (UNI, CONCH, a ResNet ...) plus a side-car
// JSON saying how to feed it. Output contract: forward returns one [B, D] float tensor, one row of
// D features per crop. Anything else is refused naming the file: a [B, D, H, W] map flattened would
// mix positions into features, a [B] vector is not a feature row, and which element of a tuple or
// dict holds the embedding is the model's author's to say (wrap it in a module returning that one).
#include <torch/script.h>

#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "encoders/cnn.h"
#include "encoders/cnn_encoder.h"
#include "encoders/image_tensor.h"
#include "encoders/torchscript_sidecar.h"

namespace hiscmcl {
namespace {

namespace fs = std::filesystem;

struct SidecarConfig {
  int input_size = 224;
  ImageNormalization norm = imagenet_normalization();
  int64_t output_dim = 0;  // 0: probe with one forward
};

// The side-car's keys over the defaults (224 px, ImageNet mean/std, probed output size).
SidecarConfig read_sidecar(const std::string& file) {
  SidecarConfig cfg;
  TorchscriptSidecar defaults;
  defaults.input_size = cfg.input_size;
  defaults.mean = cfg.norm.mean;
  defaults.std = cfg.norm.std;
  defaults.output_dim = cfg.output_dim;
  TorchscriptSidecar sc = read_torchscript_sidecar(file, defaults);
  cfg.input_size = sc.input_size;
  cfg.norm.mean = sc.mean;
  cfg.norm.std = sc.std;
  cfg.output_dim = sc.output_dim;
  return cfg;
}

// What a forward returned, for messages: "a tuple", "a dict", ...
std::string kind_of(const c10::IValue& v) {
  if (v.isTuple()) return "a tuple";
  if (v.isGenericDict()) return "a dict";
  if (v.isList()) return "a list";
  return "a " + v.tagKind();
}

class TorchscriptEncoder : public Encoder {
 public:
  TorchscriptEncoder(const std::string& path, const EncoderOptions& opt)
      : path_(path), device_(encoder_device(opt.device)), batch_size_(std::max(1, opt.batch_size)) {
    if (!fs::exists(path)) throw InputError(path, "TorchScript model file not found");
    const std::string sidecar = find_torchscript_sidecar(path);
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
    c10::IValue out;
    try {
      out = module_.forward({x.to(device_)});
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      throw InputError(path_, "forward on a [B,3," + std::to_string(cfg_.input_size) + "," +
                                  std::to_string(cfg_.input_size) +
                                  "] batch failed: " + msg.substr(0, msg.find('\n')));
    }
    if (!out.isTensor())
      throw InputError(path_, "the model returns " + kind_of(out) +
                                  "; an encoder must return one [B, D] tensor (wrap the model in a module whose "
                                  "forward returns the embedding)");
    const torch::Tensor y = out.toTensor();
    if (y.dim() != 2 || y.size(0) != x.size(0)) {
      std::string shape;
      for (int64_t d = 0; d < y.dim(); ++d) shape += (d ? ", " : "") + std::to_string(y.size(d));
      throw InputError(path_, "the model returns a [" + shape + "] tensor for " + std::to_string(x.size(0)) +
                                  " crops; an encoder must return [B, D], one row of features per crop (pool or "
                                  "flatten inside the model)");
    }
    if (!y.is_floating_point())
      throw InputError(path_, "the model returns " + std::string(c10::toString(y.scalar_type())) +
                                  " values; features must be floating point");
    return y.to(torch::kCPU, torch::kFloat32).contiguous();
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
