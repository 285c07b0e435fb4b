#include "io/spatial_image.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hiscmcl {

SpatialImage spatial_image_of(const SlideImage& slide, int max_side) {
  const int w = slide.width(), h = slide.height();
  SpatialImage out;
  if (w <= 0 || h <= 0 || max_side <= 0) return out;
  const double scale = std::min(1.0, double(max_side) / double(std::max(w, h)));
  const cv::Size size(std::max(1, int(std::lround(w * scale))), std::max(1, int(std::lround(h * scale))));
  // A pyramid is read from its coarsest level that still has this resolution; OpenCV images are
  // shrunk in memory (they are decoded whole anyway).
  cv::Mat rgb = slide.read_region_resized(cv::Rect(0, 0, w, h), size);
  if (rgb.size() != size) cv::resize(rgb, rgb, size, 0, 0, cv::INTER_AREA);
  if (!rgb.isContinuous()) rgb = rgb.clone();
  out.width = size.width;
  out.height = size.height;
  out.hires_scalef = double(size.width) / double(w);
  out.rgb.resize(size_t(size.width) * size_t(size.height) * 3);
  std::memcpy(out.rgb.data(), rgb.data, out.rgb.size());
  return out;
}

}  // namespace hiscmcl
