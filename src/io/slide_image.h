// An H&E image to crop from. Chosen by content, not by extension: any file OpenSlide recognises
// (SVS, NDPI, MRXS, SCN, BIF, tiled/pyramidal TIFF and BigTIFF) is read region by region from its
// pyramid and never decoded whole; plain JPEG/PNG/untiled TIFF are decoded once by OpenCV.
// Regions are RGB uint8; pixels outside the image are black.
#pragma once
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>

namespace hiscmcl {

class SlideImage {
 public:
  virtual ~SlideImage() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  // RGB uint8 (CV_8UC3) of size rect.size(), at full resolution; outside the image is black.
  // Thread-safe.
  virtual cv::Mat read_region(const cv::Rect& rect) const = 0;
  // rect (full-resolution pixels) resized to out: INTER_AREA when shrinking, INTER_LINEAR when
  // enlarging, a plain copy when the sizes match. A pyramid is read from the coarsest level that
  // still has at least out's resolution, so a large crop never decodes its full-resolution tiles.
  // Thread-safe.
  virtual cv::Mat read_region_resized(const cv::Rect& rect, cv::Size out) const;
  // Whole image at (approximately) the given downsample factor >= 1, RGB uint8; a pyramid is read
  // from its low-resolution levels.
  virtual cv::Mat thumbnail(double downsample) const = 0;
  // Microns per full-resolution pixel recorded in the file (openslide.mpp-x/y), if any.
  virtual std::optional<double> um_per_px() const { return std::nullopt; }
  // Whether this image is read through OpenSlide (pyramidal, decoded region by region).
  virtual bool is_whole_slide() const { return false; }

  // Opens path (InputError naming the file when missing, unreadable or truncated, with
  // OpenSlide's own message for a slide it recognises but cannot read).
  static std::unique_ptr<SlideImage> open(const std::filesystem::path& path);
  // Wraps an RGB image already in memory.
  static std::unique_ptr<SlideImage> from_rgb(cv::Mat rgb);
};

// The pyramid level to read for a wanted downsample: the coarsest level whose downsample is at
// most `wanted` (level 0 when none is). level_downsamples[0] is 1 and they increase. Pure.
int level_for_downsample(const std::vector<double>& level_downsamples, double wanted);

}  // namespace hiscmcl
