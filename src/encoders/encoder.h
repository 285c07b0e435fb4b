// One interface for every image encoder: crops in, one feature vector per crop out.
// Implementations: histo (weight-free stain/colour/texture statistics), resnet18, resnet50,
// densenet121, small_cnn (LibTorch modules), torchscript:<file> (any traced model). No LibTorch here.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

struct EncoderOptions {
  std::string weights;       // weight file for CNN trunks ("" = random init, seeded)
  std::string device = "cpu";
  int batch_size = 32;
  bool use_onednn = true;    // CPU CNN inference through oneDNN (mkldnn) when faster
  std::string img_norm = "imagenet";  // imagenet | none (reference compat: [0,1] RGB)
  uint64_t seed = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::string name() const = 0;
  virtual int input_size() const = 0;  // crops are resized to input_size x input_size
  virtual int64_t dim() const = 0;
  // True when embed takes square crops of any side as they are (CNN trunks with global pooling):
  // the reference's upsampled scales need it.
  virtual bool any_input_size() const { return false; }
  // crops: RGB uint8 (CV_8UC3), each input_size x input_size (or, with any_input_size, all of
  // one side). Returns [crops.size(), dim()].
  virtual Matrix embed(const std::vector<cv::Mat>& crops) = 0;
};

// name: histo | resnet18 | resnet50 | densenet121 | small_cnn | torchscript:<file>. Throws InputError /
// std::invalid_argument on an unknown name or unreadable weights.
std::unique_ptr<Encoder> make_encoder(const std::string& name, const EncoderOptions& opt = {});

}  // namespace hiscmcl
