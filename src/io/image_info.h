// An image's size without decoding it: JPEG SOF and PNG IHDR headers are parsed directly (a 9k x
// 10k JPEG takes about a second to decode just for its size); anything else (TIFF, whole-slide
// files) falls back to SlideImage::open, which reads a slide's header only. Also rejects cut-short
// JPEG/PNG files (no EOI / IEND).
#pragma once
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hiscmcl {

struct ManifestSection;

struct ImageSize {
  int width = 0, height = 0;
  std::optional<double> um_per_px;  // recorded in a whole-slide file's properties, if any
};

// InputError naming the file when missing, truncated or unreadable.
ImageSize read_image_size(const std::filesystem::path& path);

// Microns per pixel for a section: the manifest's when given (a warning naming image_file when the
// slide records a value more than 5% away), else the slide's, else nullopt.
std::optional<double> choose_um_per_px(std::optional<double> manifest, std::optional<double> slide,
                                       const std::string& image_file);

// InputError naming table_file and the first spot (by id) whose centre lies outside the image.
void require_pixels_inside(const std::vector<std::string>& spot_ids,
                           const std::vector<std::array<double, 2>>& pixel_xy, const ImageSize& size,
                           const std::string& table_file, const std::string& image_file);

// Maps pixel_xy through the section's affine (when it has one); returns the affine (identity
// when none) for ImageGeometry::affine.
std::array<double, 6> apply_manifest_affine(const ManifestSection& ms,
                                            std::vector<std::array<double, 2>>& pixel_xy);

// Pure header parsers over the first bytes of a file; nullopt when not that format or too short.
std::optional<ImageSize> png_size_from_header(std::string_view head);

}  // namespace hiscmcl
