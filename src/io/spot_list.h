// Spots to predict on a new image, from the spot tables users have:
//   - a legacy ST spot table (x y new_x new_y pixel_x pixel_y selected; tab-separated): ids "XxY",
//     only selected == 1;
//   - Visium positions (tissue_positions_list.csv without header, or tissue_positions.csv with
//     one): ids = barcodes, only in_tissue == 1, full-resolution pixels;
//   - a plain CSV with header id,pixel_x,pixel_y.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace hiscmcl {

struct QuerySpots {
  std::vector<std::string> ids;
  std::vector<std::array<double, 2>> pixel_xy;  // image pixels
  std::vector<std::array<double, 2>> array_xy;  // array coordinates where the table has them
  std::string format;                           // st_legacy | visium | csv | grid
};

QuerySpots read_query_spots(const std::filesystem::path& path);  // InputError naming the file

}  // namespace hiscmcl
