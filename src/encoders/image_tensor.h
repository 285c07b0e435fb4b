// Crops (cv::Mat RGB uint8) -> normalised float tensor [B,3,S,S] for the CNN / TorchScript
// encoders: RGB order, /255, then (x - mean) / std per channel. img_norm "imagenet" uses the
// ImageNet mean/std; "none" gives the reference's plain [0,1] input (METHOD.md §4.4, §9.2).
// Crops of another size are resized (bilinear) to S x S.
#pragma once
#include <torch/torch.h>

#include <array>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace hiscmcl {

struct ImageNormalization {
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
};

ImageNormalization imagenet_normalization();  // mean 0.485 0.456 0.406, std 0.229 0.224 0.225
// "imagenet" | "none"; std::invalid_argument otherwise.
ImageNormalization normalization_from_name(const std::string& img_norm);

// crops: CV_8UC3 RGB. Throws std::invalid_argument on another type. Returns a CPU float tensor.
torch::Tensor crops_to_tensor(const std::vector<cv::Mat>& crops, int size,
                              const ImageNormalization& norm);

}  // namespace hiscmcl
