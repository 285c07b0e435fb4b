#include "io/image_info.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "common/error.h"
#include "io/manifest.h"
#include "io/slide_image.h"

#include <spdlog/spdlog.h>

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// The last `n` bytes of the file (for the end-of-image marker check).
std::string file_tail(FILE* f, long n) {
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  long back = std::min(size, n);
  std::fseek(f, size - back, SEEK_SET);
  std::string tail(size_t(back), '\0');
  size_t got = std::fread(tail.data(), 1, tail.size(), f);
  tail.resize(got);
  return tail;
}

// Walks the JPEG marker segments (seeking over them, never reading the entropy-coded data) to
// the first SOFn frame header, which holds height and width.
std::optional<ImageSize> jpeg_size(FILE* f) {
  std::fseek(f, 2, SEEK_SET);
  for (;;) {
    int c = std::fgetc(f);
    if (c == EOF) return std::nullopt;
    if (c != 0xFF) return std::nullopt;  // lost sync: not a well-formed header
    int marker;
    do marker = std::fgetc(f);
    while (marker == 0xFF);  // fill bytes
    if (marker == EOF) return std::nullopt;
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // EOI / scan before any SOF
    unsigned char len_bytes[2];
    if (std::fread(len_bytes, 1, 2, f) != 2) return std::nullopt;
    int len = (len_bytes[0] << 8) | len_bytes[1];
    if (len < 2) return std::nullopt;
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      unsigned char h[5];
      if (std::fread(h, 1, 5, f) != 5) return std::nullopt;
      return ImageSize{(h[3] << 8) | h[4], (h[1] << 8) | h[2], std::nullopt};
    }
    if (std::fseek(f, len - 2, SEEK_CUR) != 0) return std::nullopt;
  }
}

}  // namespace

std::optional<ImageSize> png_size_from_header(std::string_view head) {
  static const char sig[] = "\x89PNG\r\n\x1a\n";
  if (head.size() < 24 || head.substr(0, 8) != std::string_view(sig, 8)) return std::nullopt;
  if (head.substr(12, 4) != "IHDR") return std::nullopt;
  auto p = reinterpret_cast<const unsigned char*>(head.data());
  return ImageSize{int(be32(p + 16)), int(be32(p + 20)), std::nullopt};
}

ImageSize read_image_size(const fs::path& path) {
  if (!fs::exists(path)) throw InputError(path.string(), "image file not found");
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw InputError(path.string(), "cannot open image file");
  unsigned char head[24] = {0};
  size_t got = std::fread(head, 1, sizeof head, f.get());
  std::string_view head_view(reinterpret_cast<const char*>(head), got);

  if (got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
    if (file_tail(f.get(), 64).find("\xFF\xD9") == std::string::npos)
      throw InputError(path.string(), "truncated JPEG (no end-of-image marker)");
    if (auto s = jpeg_size(f.get()); s && s->width > 0 && s->height > 0) return *s;
    throw InputError(path.string(), "corrupt JPEG: no frame header (SOF) found");
  }
  if (auto s = png_size_from_header(head_view)) {
    if (file_tail(f.get(), 64).find("IEND") == std::string::npos)
      throw InputError(path.string(), "truncated PNG (no IEND chunk)");
    if (s->width <= 0 || s->height <= 0) throw InputError(path.string(), "corrupt PNG header");
    return *s;
  }
  f.reset();
  auto img = SlideImage::open(path);  // TIFF, whole-slide files, anything else OpenCV reads
  return ImageSize{img->width(), img->height(), img->um_per_px()};
}

std::optional<double> choose_um_per_px(std::optional<double> manifest, std::optional<double> slide,
                                       const std::string& image_file) {
  if (!manifest) return slide;
  if (slide && std::abs(*slide - *manifest) > 0.05 * *manifest)
    spdlog::warn("{}: the slide records {:.4g} um/px but the manifest says {:.4g}; using the manifest's",
                 image_file, *slide, *manifest);
  return manifest;
}

void require_pixels_inside(const std::vector<std::string>& spot_ids,
                           const std::vector<std::array<double, 2>>& pixel_xy, const ImageSize& size,
                           const std::string& table_file, const std::string& image_file) {
  for (size_t i = 0; i < pixel_xy.size(); ++i) {
    const auto& p = pixel_xy[i];
    if (!(p[0] >= 0 && p[0] < size.width && p[1] >= 0 && p[1] < size.height))
      throw InputError(table_file, "spot " + spot_ids[i] + " centre (" + std::to_string(p[0]) + ", " +
                                       std::to_string(p[1]) + ") lies outside the image " + image_file +
                                       " (" + std::to_string(size.width) + " x " +
                                       std::to_string(size.height) + " px)");
  }
}

std::array<double, 6> apply_manifest_affine(const ManifestSection& ms,
                                            std::vector<std::array<double, 2>>& pixel_xy) {
  const std::array<double, 6> a = ms.affine.value_or(std::array<double, 6>{1, 0, 0, 0, 1, 0});
  if (ms.affine)
    for (auto& p : pixel_xy) {
      double x = p[0], y = p[1];
      p = {a[0] * x + a[1] * y + a[2], a[3] * x + a[4] * y + a[5]};
    }
  return a;
}

}  // namespace hiscmcl
