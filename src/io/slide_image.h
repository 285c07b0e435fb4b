// An H&E image to crop from: an ordinary image decoded once by OpenCV, or a whole-slide file
// (SVS, NDPI, pyramidal TIFF) read region by region through OpenSlide. Regions are RGB uint8;
// pixels outside the image are black.
#pragma once
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>

namespace hiscmcl {

class SlideImage {
 public:
  virtual ~SlideImage() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  // RGB uint8 (CV_8UC3) of size rect.size(), at full resolution; outside the image is black.
  // Thread-safe.
  virtual cv::Mat read_region(const cv::Rect& rect) const = 0;
  // Whole image at (approximately) the given downsample factor >= 1, RGB uint8.
  virtual cv::Mat thumbnail(double downsample) const = 0;

  // Opens path (InputError naming the file when missing, unreadable or truncated).
  static std::unique_ptr<SlideImage> open(const std::filesystem::path& path);
  // Wraps an RGB image already in memory.
  static std::unique_ptr<SlideImage> from_rgb(cv::Mat rgb);
};

}  // namespace hiscmcl
