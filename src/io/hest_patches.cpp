#include "io/hest_patches.h"

#include <cstring>
#include <unordered_map>

#include "common/error.h"
#include "io/hdf5_file.h"

namespace fs = std::filesystem;

namespace hiscmcl {

fs::path hest_patches_file(const fs::path& image_path) {
  if (image_path.parent_path().filename() != "wsis") return {};
  return image_path.parent_path().parent_path() / "patches" / (image_path.stem().string() + ".h5");
}

HestPatches::HestPatches(const fs::path& file, const std::vector<std::string>& spot_ids) {
  if (!fs::exists(file))
    throw InputError(file.string(), "HEST patches not found (encoder.hest_patches = true needs "
                                    "patches/<id>.h5 beside wsis/)");
  file_ = std::make_unique<hdf5::File>(hdf5::File::open(file, "HEST patches"));
  for (const char* d : {"img", "barcode"})
    if (!file_->exists(d)) file_->fail(d, "missing: not a HEST patch file");
  hdf5::Dataset img = file_->dataset("img");
  std::vector<hsize_t> dims = img.dims();
  if (dims.size() != 4 || dims[3] != 3 || dims[1] != dims[2] || dims[1] == 0)
    img.fail("expected RGB patches [N, S, S, 3]");
  side_ = int(dims[1]);
  std::vector<std::string> barcodes = file_->dataset("barcode").read_strings(int64_t(dims[0]));
  std::unordered_map<std::string, int64_t> row;
  for (size_t i = 0; i < barcodes.size(); ++i) row.emplace(barcodes[i], int64_t(i));
  row_of_spot_.reserve(spot_ids.size());
  for (const auto& id : spot_ids) {
    auto it = row.find(id);
    if (it == row.end())
      throw InputError(file.string(), "spot " + id + " has no patch (barcode not in " +
                                          std::to_string(barcodes.size()) + " patches)");
    row_of_spot_.push_back(it->second);
  }
}

HestPatches::~HestPatches() = default;

std::vector<cv::Mat> HestPatches::read(int64_t first, int64_t count) const {
  hdf5::Dataset img = file_->dataset("img");
  std::vector<cv::Mat> out;
  out.reserve(size_t(count));
  for (int64_t i = first; i < first + count; ++i) {
    std::vector<uint8_t> px = img.read_u8_rows(row_of_spot_.at(size_t(i)), 1);
    cv::Mat m(side_, side_, CV_8UC3);
    std::memcpy(m.data, px.data(), px.size());
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace hiscmcl
