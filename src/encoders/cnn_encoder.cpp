// CnnEncoder: a built-in trunk (cnn.h) behind the Encoder interface.
#include "encoders/cnn_encoder.h"

#include "common/log.h"
#include "encoders/cnn.h"
#include "encoders/image_tensor.h"

namespace hiscmcl {
namespace {

class CnnEncoder : public Encoder {
 public:
  CnnEncoder(const std::string& arch, const EncoderOptions& opt)
      : arch_(arch),
        norm_(normalization_from_name(opt.img_norm)),
        device_(encoder_device(opt.device)),
        batch_size_(std::max(1, opt.batch_size)),
        trunk_(nullptr) {
    torch::manual_seed(opt.seed);  // random init is reproducible
    trunk_ = make_cnn_trunk(arch);
    if (!opt.weights.empty()) load_cnn_weights(*trunk_, opt.weights);
    else spdlog::warn("encoder {}: no --weights, using seeded random initialisation", arch);
    prepare(opt.use_onednn);
  }
  CnnEncoder(const std::string& arch, CnnTrunk trunk, const EncoderOptions& opt)
      : arch_(arch),
        norm_(normalization_from_name(opt.img_norm)),
        device_(encoder_device(opt.device)),
        batch_size_(std::max(1, opt.batch_size)),
        trunk_(std::move(trunk)) {
    prepare(opt.use_onednn);
  }

  void prepare(bool use_onednn = true) {
    trunk_->to(device_);
    // use_onednn picks the layout measured fastest for this trunk (docs/BENCHMARKS.md).
    layout_ = (device_.is_cpu() && use_onednn) ? fastest_cpu_layout(arch_) : CpuLayout::contiguous;
    prepare_trunk_for_inference(trunk_, layout_);
  }

  std::string name() const override { return arch_; }
  int input_size() const override { return cnn_trunk_input_px(arch_); }
  int64_t dim() const override { return trunk_->dim(); }
  bool any_input_size() const override { return true; }

  Matrix embed(const std::vector<cv::Mat>& crops) override {
    Matrix out(int64_t(crops.size()), dim());
    for (size_t start = 0; start < crops.size(); start += size_t(batch_size_)) {
      const size_t end = std::min(crops.size(), start + size_t(batch_size_));
      std::vector<cv::Mat> batch(crops.begin() + long(start), crops.begin() + long(end));
      torch::Tensor x = crops_to_tensor(batch, batch.front().cols, norm_).to(device_);
      torch::Tensor y = trunk_inference(trunk_, x, layout_).to(torch::kCPU).contiguous();
      std::copy(y.data_ptr<float>(), y.data_ptr<float>() + y.numel(), out.row(int64_t(start)));
    }
    return out;
  }

 private:
  std::string arch_;
  ImageNormalization norm_;
  torch::Device device_;
  int batch_size_;
  CnnTrunk trunk_;
  CpuLayout layout_ = CpuLayout::contiguous;
};

}  // namespace

std::unique_ptr<Encoder> make_cnn_encoder(const std::string& arch, const EncoderOptions& opt) {
  return std::make_unique<CnnEncoder>(arch, opt);
}

std::unique_ptr<Encoder> make_trunk_encoder(const std::string& arch, CnnTrunk trunk,
                                            const EncoderOptions& opt) {
  return std::make_unique<CnnEncoder>(arch, std::move(trunk), opt);
}

}  // namespace hiscmcl
