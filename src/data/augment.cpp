#include "data/augment.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

namespace hiscmcl {
namespace {

void require_rgb(const cv::Mat& m) {
  if (m.type() != CV_8UC3) throw std::invalid_argument("augment: crops must be CV_8UC3 RGB");
}

// PIL's Image.blend(a, b, f) = a + f (b - a), clipped and truncated to uint8.
uint8_t blend(int a, int b, double f) {
  double v = a + f * (b - a);
  return v <= 0 ? 0 : v >= 255 ? 255 : uint8_t(v);
}

// PIL's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
int luminance(const cv::Vec3b& p) { return (19595 * p[0] + 38470 * p[1] + 7471 * p[2] + 0x8000) >> 16; }

}  // namespace

AugmentParams draw_augment(std::mt19937_64& rng, double jitter) {
  std::uniform_real_distribution<double> factor(std::max(0.0, 1 - jitter), 1 + jitter);
  std::uniform_real_distribution<double> unit(0.0, 1.0), angle(-180.0, 180.0);
  AugmentParams p;
  p.brightness = factor(rng);
  p.contrast = factor(rng);
  p.saturation = factor(rng);
  std::shuffle(p.order.begin(), p.order.end(), rng);
  p.flip = unit(rng) < 0.5;
  p.angle_deg = angle(rng);
  return p;
}

cv::Mat adjust_brightness(const cv::Mat& rgb, double factor) {
  require_rgb(rgb);
  cv::Mat out(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x)
      for (int c = 0; c < 3; ++c) out.at<cv::Vec3b>(y, x)[c] = blend(0, rgb.at<cv::Vec3b>(y, x)[c], factor);
  return out;
}

cv::Mat adjust_contrast(const cv::Mat& rgb, double factor) {
  require_rgb(rgb);
  double sum = 0;
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x) sum += luminance(rgb.at<cv::Vec3b>(y, x));
  const int mean = int(sum / double(std::max(1, rgb.rows * rgb.cols)) + 0.5);
  cv::Mat out(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x)
      for (int c = 0; c < 3; ++c) out.at<cv::Vec3b>(y, x)[c] = blend(mean, rgb.at<cv::Vec3b>(y, x)[c], factor);
  return out;
}

cv::Mat adjust_saturation(const cv::Mat& rgb, double factor) {
  require_rgb(rgb);
  cv::Mat out(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x) {
      const cv::Vec3b& p = rgb.at<cv::Vec3b>(y, x);
      const int l = luminance(p);
      for (int c = 0; c < 3; ++c) out.at<cv::Vec3b>(y, x)[c] = blend(l, p[c], factor);
    }
  return out;
}

cv::Mat rotate_nearest(const cv::Mat& rgb, double angle_deg) {
  require_rgb(rgb);
  if (angle_deg == 0) return rgb.clone();
  // PIL rotates about (w/2, h/2) in pixel-edge coordinates: ((w-1)/2, (h-1)/2) in OpenCV's.
  cv::Point2f centre(float(rgb.cols - 1) / 2.f, float(rgb.rows - 1) / 2.f);
  cv::Mat m = cv::getRotationMatrix2D(centre, angle_deg, 1.0);
  cv::Mat out;
  cv::warpAffine(rgb, out, m, rgb.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  return out;
}

cv::Mat apply_augment(const cv::Mat& rgb, const AugmentParams& p) {
  require_rgb(rgb);
  cv::Mat out = rgb;
  for (int op : p.order) {
    if (op == 0 && p.brightness != 1) out = adjust_brightness(out, p.brightness);
    if (op == 1 && p.contrast != 1) out = adjust_contrast(out, p.contrast);
    if (op == 2 && p.saturation != 1) out = adjust_saturation(out, p.saturation);
  }
  if (p.flip) {
    cv::Mat f;
    cv::flip(out, f, 1);
    out = f;
  }
  out = rotate_nearest(out, p.angle_deg);
  return out.data == rgb.data ? rgb.clone() : out;
}

}  // namespace hiscmcl
