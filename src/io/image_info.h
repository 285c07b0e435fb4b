// An image's size without decoding it: JPEG SOF and PNG IHDR headers are parsed directly (a 9k x
// 10k JPEG takes about a second to decode just for its size); anything else (TIFF, whole-slide
// files) falls back to SlideImage::open. Also rejects cut-short JPEG/PNG files (no EOI / IEND).
#pragma once
#include <filesystem>
#include <optional>
#include <string_view>

namespace hiscmcl {

struct ImageSize {
  int width = 0, height = 0;
};

// InputError naming the file when missing, truncated or unreadable.
ImageSize read_image_size(const std::filesystem::path& path);

// Pure header parsers over the first bytes of a file; nullopt when not that format or too short.
std::optional<ImageSize> png_size_from_header(std::string_view head);

}  // namespace hiscmcl
