// HEST-1k's pre-cut spot patches, patches/<id>.h5: img uint8 [N, S, S, 3] (S = 224 at 0.5 µm/px,
// 112 µm across), barcode [N, 1] strings, coords [N, 2] (top-left, full-resolution pixels).
// Rows are joined to a section's spots by barcode (HEST drops spots whose patch left the slide),
// and each patch is read on its own, so memory stays flat however many spots a sample has.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace hiscmcl {

namespace hdf5 {
class File;
}

// root/patches/<id>.h5 for a slide at root/wsis/<id>.tif (the HEST layout); empty otherwise.
std::filesystem::path hest_patches_file(const std::filesystem::path& image_path);

class HestPatches {
 public:
  // InputError naming the file when it is missing or malformed, or the first spot id without a
  // patch.
  HestPatches(const std::filesystem::path& file, const std::vector<std::string>& spot_ids);
  ~HestPatches();
  int side() const { return side_; }
  // The patch of spots[first .. first + count), RGB uint8 (CV_8UC3), side() x side() each.
  std::vector<cv::Mat> read(int64_t first, int64_t count) const;

 private:
  std::unique_ptr<hdf5::File> file_;
  std::vector<int64_t> row_of_spot_;
  int side_ = 0;
};

}  // namespace hiscmcl
