#include "io/spot_list.h"

#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "io/st_legacy_reader.h"
#include "io/text_file.h"
#include "io/visium_reader.h"

namespace hiscmcl {

QuerySpots read_query_spots(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw InputError(path.string(), "spot file not found");
  std::string text = read_maybe_gzipped(path);
  auto lines = split_lines(text);
  if (lines.empty()) throw InputError(path.string(), "empty spot file");
  std::string head(lines[0]);
  QuerySpots q;
  if (head.find("pixel_x") != std::string::npos && head.find('\t') != std::string::npos) {
    q.format = "st_legacy";
    for (auto& r : read_spot_table(path)) {
      if (r.selected != 1) continue;
      q.ids.push_back(spot_key(r.x, r.y));
      q.pixel_xy.push_back({r.pixel_x, r.pixel_y});
      q.array_xy.push_back({r.x, r.y});
    }
  } else if (head.find("pixel_x") != std::string::npos) {
    q.format = "csv";
    auto cols = split_fields(lines[0], ',');
    int ci = -1, cx = -1, cy = -1;
    for (int i = 0; i < int(cols.size()); ++i) {
      std::string c(unquote(cols[size_t(i)]));
      if (c == "id" || c == "barcode") ci = i;
      if (c == "pixel_x") cx = i;
      if (c == "pixel_y") cy = i;
    }
    if (ci < 0 || cx < 0 || cy < 0)
      throw InputError(path.string(), "a spot CSV needs the columns id,pixel_x,pixel_y", "line 1");
    for (size_t l = 1; l < lines.size(); ++l) {
      if (lines[l].empty()) continue;
      auto f = split_fields(lines[l], ',');
      if (int(f.size()) <= std::max(ci, std::max(cx, cy)))
        throw InputError(path.string(), "too few fields", "line " + std::to_string(l + 1));
      char* end = nullptr;
      std::string sx(f[size_t(cx)]), sy(f[size_t(cy)]);
      double x = std::strtod(sx.c_str(), &end);
      bool ok = end != sx.c_str();
      double y = std::strtod(sy.c_str(), &end);
      ok = ok && end != sy.c_str();
      if (!ok) throw InputError(path.string(), "non-numeric pixel coordinate", "line " + std::to_string(l + 1));
      q.ids.emplace_back(unquote(f[size_t(ci)]));
      q.pixel_xy.push_back({x, y});
      q.array_xy.push_back({0, 0});
    }
  } else {
    q.format = "visium";
    for (auto& p : read_tissue_positions(path)) {
      if (p.in_tissue != 1) continue;
      q.ids.push_back(p.barcode);
      q.pixel_xy.push_back({p.pxl_col, p.pxl_row});
      q.array_xy.push_back({p.array_col, p.array_row});
    }
  }
  if (q.ids.empty()) throw InputError(path.string(), "no spots (none selected / in tissue)");
  // Centres become int pixel positions when patches are cropped: NaN, inf (strtod reads "nan",
  // "inf") or |v| >= 2^31 would be undefined behaviour there, and lie off any image anyway.
  for (size_t i = 0; i < q.ids.size(); ++i)
    for (double v : q.pixel_xy[i])
      if (!(std::fabs(v) < 2147483647.0))
        throw InputError(path.string(), "spot '" + q.ids[i] + "': pixel coordinate " +
                                            std::to_string(v) + " is not a finite image position");
  return q;
}

}  // namespace hiscmcl
