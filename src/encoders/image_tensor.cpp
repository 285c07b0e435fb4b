#include "encoders/image_tensor.h"

#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace hiscmcl {

ImageNormalization imagenet_normalization() {
  return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

ImageNormalization normalization_from_name(const std::string& img_norm) {
  if (img_norm == "imagenet") return imagenet_normalization();
  if (img_norm == "none") return {};
  throw std::invalid_argument("unknown img_norm '" + img_norm + "' (valid: imagenet, none)");
}

torch::Tensor crops_to_tensor(const std::vector<cv::Mat>& crops, int size,
                              const ImageNormalization& norm) {
  const int64_t n = int64_t(crops.size());
  torch::Tensor out = torch::empty({n, 3, size, size}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  const int64_t plane = int64_t(size) * size;
  // Fold /255 and the mean/std into one multiply-add per pixel.
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.f / (255.f * norm.std[c]);
    shift[c] = -norm.mean[c] / norm.std[c];
  }
  for (int64_t i = 0; i < n; ++i) {
    const cv::Mat& src = crops[size_t(i)];
    if (src.type() != CV_8UC3)
      throw std::invalid_argument("encoder input crop " + std::to_string(i) +
                                  " is not an 8-bit 3-channel RGB image");
    cv::Mat img = src;
    if (img.rows != size || img.cols != size)
      cv::resize(src, img, cv::Size(size, size), 0, 0, cv::INTER_LINEAR);
    float* r = dst + i * 3 * plane;
    float* g = r + plane;
    float* b = g + plane;
    for (int y = 0; y < size; ++y) {
      const uint8_t* p = img.ptr<uint8_t>(y);
      const int64_t o = int64_t(y) * size;
      for (int x = 0; x < size; ++x) {
        r[o + x] = p[3 * x] * scale[0] + shift[0];
        g[o + x] = p[3 * x + 1] * scale[1] + shift[1];
        b[o + x] = p[3 * x + 2] * scale[2] + shift[2];
      }
    }
  }
  return out;
}

}  // namespace hiscmcl
