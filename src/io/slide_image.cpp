#include "io/slide_image.h"

#include <openslide/openslide.h>

#include <fstream>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

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

class OpenSlideImage : public SlideImage {
 public:
  OpenSlideImage(openslide_t* osr, const fs::path& path) : osr_(osr), path_(path) {
    int64_t w = 0, h = 0;
    openslide_get_level0_dimensions(osr_, &w, &h);
    w_ = int(w);
    h_ = int(h);
  }
  ~OpenSlideImage() override { openslide_close(osr_); }
  int width() const override { return w_; }
  int height() const override { return h_; }
  cv::Mat read_region(const cv::Rect& rect) const override {
    std::vector<uint32_t> argb(size_t(rect.area()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      openslide_read_region(osr_, argb.data(), rect.x, rect.y, 0, rect.width, rect.height);
      if (const char* err = openslide_get_error(osr_))
        throw InputError(path_.string(), std::string("OpenSlide: ") + err);
    }
    return argb_to_rgb(argb, rect.width, rect.height);
  }
  cv::Mat thumbnail(double downsample) const override {
    std::lock_guard<std::mutex> lock(mu_);
    int level = openslide_get_best_level_for_downsample(osr_, downsample);
    int64_t w = 0, h = 0;
    openslide_get_level_dimensions(osr_, level, &w, &h);
    std::vector<uint32_t> argb(size_t(w * h));
    openslide_read_region(osr_, argb.data(), 0, 0, level, w, h);
    cv::Mat rgb = argb_to_rgb(argb, int(w), int(h));
    double have = openslide_get_level_downsample(osr_, level);
    if (have < downsample) {
      cv::Mat out;
      double f = have / downsample;
      cv::resize(rgb, out, cv::Size(), f, f, cv::INTER_AREA);
      return out;
    }
    return rgb;
  }

 private:
  static cv::Mat argb_to_rgb(const std::vector<uint32_t>& argb, int w, int h) {
    cv::Mat out(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y) {
      auto* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < w; ++x) {
        uint32_t p = argb[size_t(y) * w + x];
        uint32_t a = p >> 24;
        // Premultiplied ARGB; transparent (outside the scanned area) becomes black.
        if (a == 0) {
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
  mutable std::mutex mu_;
};

bool is_plain_image(const fs::path& path) {
  std::string ext = path.extension().string();
  for (auto& c : ext) c = char(std::tolower(c));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

}  // namespace

std::unique_ptr<SlideImage> SlideImage::from_rgb(cv::Mat rgb) {
  return std::make_unique<OpenCvImage>(std::move(rgb));
}

std::unique_ptr<SlideImage> SlideImage::open(const fs::path& path) {
  if (!fs::exists(path)) throw InputError(path.string(), "image file not found");
  if (!is_plain_image(path)) {
    const char* vendor = openslide_detect_vendor(path.c_str());
    if (vendor && std::string(vendor) != "generic-tiff") {
      openslide_t* osr = openslide_open(path.c_str());
      if (!osr) throw InputError(path.string(), "OpenSlide cannot open this whole-slide image");
      if (const char* err = openslide_get_error(osr)) {
        std::string msg = err;
        openslide_close(osr);
        throw InputError(path.string(), "OpenSlide: " + msg);
      }
      return std::make_unique<OpenSlideImage>(osr, path);
    }
  }
  if (jpeg_truncated(path)) throw InputError(path.string(), "truncated JPEG (no end-of-image marker)");
  cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw InputError(path.string(), "cannot decode image (corrupt or unsupported format)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return std::make_unique<OpenCvImage>(std::move(rgb));
}

}  // namespace hiscmcl
