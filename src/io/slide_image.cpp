#include "io/slide_image.h"

#include <openslide/openslide.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// Microscope slides and their downsampled copies: 0.05 um/px (a 200x scan) to 50 um/px.
constexpr double kMinPlausibleUmPerPx = 0.05, kMaxPlausibleUmPerPx = 50;

// INTER_AREA when shrinking, bilinear when enlarging, the image itself when the size matches.
cv::Mat resized_to(cv::Mat img, cv::Size out) {
  if (img.size() == out) return img;
  cv::Mat resized;
  int interp = (img.cols > out.width || img.rows > out.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(img, resized, out, 0, 0, interp);
  return resized;
}

cv::Mat crop_padded(const cv::Mat& img, const cv::Rect& rect) {
  cv::Mat out(rect.size(), CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Rect inside = rect & cv::Rect(0, 0, img.cols, img.rows);
  if (inside.area() > 0) img(inside).copyTo(out(inside - rect.tl()));
  return out;
}

// JPEGs cut short decode "successfully" with a grey tail in OpenCV; catch it by the end marker.
bool jpeg_truncated(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char head[2] = {0, 0};
  f.read(reinterpret_cast<char*>(head), 2);
  if (!(head[0] == 0xFF && head[1] == 0xD8)) return false;
  f.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(f.tellg());
  if (size < 4) return true;
  // Allow a little trailing padding after EOI.
  std::streamoff back = std::min<std::streamoff>(size, 64);
  f.seekg(size - back);
  std::string tail(static_cast<size_t>(back), '\0');
  f.read(tail.data(), back);
  return tail.find("\xFF\xD9") == std::string::npos;
}

class OpenCvImage : public SlideImage {
 public:
  explicit OpenCvImage(cv::Mat rgb) : rgb_(std::move(rgb)) {}
  int width() const override { return rgb_.cols; }
  int height() const override { return rgb_.rows; }
  cv::Mat read_region(const cv::Rect& rect) const override { return crop_padded(rgb_, rect); }
  cv::Mat thumbnail(double downsample) const override {
    if (downsample <= 1.0) return rgb_.clone();
    cv::Mat out;
    cv::resize(rgb_, out, cv::Size(), 1.0 / downsample, 1.0 / downsample, cv::INTER_AREA);
    return out;
  }

 private:
  cv::Mat rgb_;
};

// OpenSlide reads concurrently from one handle (thread-safe since 3.3.1, all calls but close), so
// crops cut on the thread pool take no lock.
class OpenSlideImage : public SlideImage {
 public:
  OpenSlideImage(openslide_t* osr, const fs::path& path) : osr_(osr), path_(path) {
    int64_t w = 0, h = 0;
    openslide_get_level0_dimensions(osr_, &w, &h);
    if (w <= 0 || h <= 0 || w > INT32_MAX || h > INT32_MAX) {
      openslide_close(osr_);
      throw InputError(path_.string(), "OpenSlide reports an unusable size " + std::to_string(w) +
                                           " x " + std::to_string(h));
    }
    w_ = int(w);
    h_ = int(h);
    for (int l = 0, n = openslide_get_level_count(osr_); l < n; ++l)
      downsamples_.push_back(openslide_get_level_downsample(osr_, l));
    if (downsamples_.empty()) downsamples_.push_back(1.0);
    um_per_px_ = mpp_from_properties();
  }
  ~OpenSlideImage() override { openslide_close(osr_); }
  int width() const override { return w_; }
  int height() const override { return h_; }
  bool is_whole_slide() const override { return true; }
  std::optional<double> um_per_px() const override { return um_per_px_; }

  cv::Mat read_region(const cv::Rect& rect) const override {
    return read_level(rect.x, rect.y, 0, rect.width, rect.height);
  }

  cv::Mat read_region_resized(const cv::Rect& rect, cv::Size out) const override {
    double wanted = std::min(double(rect.width) / out.width, double(rect.height) / out.height);
    int level = level_for_downsample(downsamples_, wanted);
    if (level == 0) return SlideImage::read_region_resized(rect, out);
    double ds = downsamples_[size_t(level)];
    int lw = std::max(1, int(std::lround(rect.width / ds)));
    int lh = std::max(1, int(std::lround(rect.height / ds)));
    return resized_to(read_level(rect.x, rect.y, level, lw, lh), out);
  }

  cv::Mat thumbnail(double downsample) const override {
    int level = level_for_downsample(downsamples_, downsample);
    int64_t w = 0, h = 0;
    openslide_get_level_dimensions(osr_, level, &w, &h);
    cv::Mat rgb = read_level(0, 0, level, int(w), int(h));
    double have = downsamples_[size_t(level)];
    if (have < downsample) {
      cv::Mat out;
      double f = have / downsample;
      cv::resize(rgb, out, cv::Size(), f, f, cv::INTER_AREA);
      return out;
    }
    return rgb;
  }

 private:
  // A w x h region of `level` whose top-left is (x0, y0) in level-0 pixels.
  cv::Mat read_level(int x0, int y0, int level, int w, int h) const {
    std::vector<uint32_t> argb(size_t(w) * size_t(h));
    openslide_read_region(osr_, argb.data(), x0, y0, level, w, h);
    if (const char* err = openslide_get_error(osr_))
      throw InputError(path_.string(), std::string("OpenSlide: ") + err);
    return argb_to_rgb(argb, w, h);
  }

  std::optional<double> mpp_from_properties() const {
    auto number = [&](const char* key) -> std::optional<double> {
      const char* v = openslide_get_property_value(osr_, key);
      if (!v) return std::nullopt;
      char* end = nullptr;
      double d = std::strtod(v, &end);
      if (end == v || !std::isfinite(d) || d <= 0) return std::nullopt;
      return d;
    };
    auto x = number(OPENSLIDE_PROPERTY_NAME_MPP_X), y = number(OPENSLIDE_PROPERTY_NAME_MPP_Y);
    if (x && y) return 0.5 * (*x + *y);
    if (x || y) return x ? x : y;
    // OpenSlide 3.4 gives a generic TIFF no mpp; its resolution tag counts when in centimetres
    // and plausible for a microscope. Pixels per inch, and vips' 72-dpi default written in
    // centimetres (28.35 px/cm: 353 um/px), are placeholders of image libraries.
    const char* unit = openslide_get_property_value(osr_, "tiff.ResolutionUnit");
    if (unit && std::string(unit) == "centimeter")
      if (auto px_per_cm = number("tiff.XResolution")) {
        const double um = 1e4 / *px_per_cm;
        if (um >= kMinPlausibleUmPerPx && um <= kMaxPlausibleUmPerPx) return um;
      }
    return std::nullopt;
  }

  static cv::Mat argb_to_rgb(const std::vector<uint32_t>& argb, int w, int h) {
    cv::Mat out(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y) {
      auto* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < w; ++x) {
        uint32_t p = argb[size_t(y) * w + x];
        uint32_t a = p >> 24;
        // Premultiplied ARGB; transparent (outside the scanned area) becomes black.
        if (a == 255) {
          row[x] = cv::Vec3b(uint8_t(p >> 16), uint8_t(p >> 8), uint8_t(p));
        } else if (a == 0) {
          row[x] = cv::Vec3b(0, 0, 0);
        } else {
          auto un = [a](uint32_t c) { return uint8_t(std::min<uint32_t>(255, c * 255 / a)); };
          row[x] = cv::Vec3b(un((p >> 16) & 255), un((p >> 8) & 255), un(p & 255));
        }
      }
    }
    return out;
  }
  openslide_t* osr_;
  fs::path path_;
  int w_ = 0, h_ = 0;
  std::vector<double> downsamples_;
  std::optional<double> um_per_px_;
};

}  // namespace

std::unique_ptr<SlideImage> SlideImage::from_rgb(cv::Mat rgb) {
  return std::make_unique<OpenCvImage>(std::move(rgb));
}

std::unique_ptr<SlideImage> SlideImage::open(const fs::path& path) {
  if (!fs::exists(path)) throw InputError(path.string(), "image file not found");
  // By content: a tiled TIFF named .jpg is still a slide; OpenSlide declines plain JPEG/PNG and
  // untiled TIFF (NULL vendor), which OpenCV decodes whole.
  if (const char* vendor = openslide_detect_vendor(path.c_str())) {
    openslide_t* osr = openslide_open(path.c_str());
    if (!osr)
      throw InputError(path.string(), std::string("OpenSlide recognises this file (") + vendor +
                                          ") but cannot open it");
    if (const char* err = openslide_get_error(osr)) {
      std::string msg = err;
      openslide_close(osr);
      throw InputError(path.string(), "OpenSlide: " + msg);
    }
    return std::make_unique<OpenSlideImage>(osr, path);
  }
  if (jpeg_truncated(path)) throw InputError(path.string(), "truncated JPEG (no end-of-image marker)");
  cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw InputError(path.string(), "cannot decode image (corrupt or unsupported format)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return std::make_unique<OpenCvImage>(std::move(rgb));
}

cv::Mat SlideImage::read_region_resized(const cv::Rect& rect, cv::Size out) const {
  return resized_to(read_region(rect), out);
}

int level_for_downsample(const std::vector<double>& level_downsamples, double wanted) {
  int best = 0;
  // A hair of tolerance: level sizes are rounded, so a 4x level may report 4.0002; reading it
  // for a wanted 4 upsamples by 0.005%, well under a pixel of a crop.
  for (size_t l = 1; l < level_downsamples.size(); ++l)
    if (level_downsamples[l] <= wanted * (1 + 1e-3) && level_downsamples[l] > level_downsamples[size_t(best)])
      best = int(l);
  return best;
}

}  // namespace hiscmcl
