// read_query_spots: the spot list of `hiscmcl predict` (legacy ST spot table, Visium positions,
// or a CSV with id,pixel_x,pixel_y), format sniffed from the first line.
#include <cmath>
#include <exception>

#include "fuzz_common.h"
#include "io/spot_list.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("spot-list", ".csv");
  try {
    hiscmcl::QuerySpots q = hiscmcl::read_query_spots(file.write(data, size));
    FUZZ_CHECK(!q.ids.empty());
    FUZZ_CHECK(q.pixel_xy.size() == q.ids.size() && q.array_xy.size() == q.ids.size());
    // The centres are cast to int when patches are cropped.
    for (const auto& xy : q.pixel_xy) FUZZ_CHECK(std::fabs(xy[0]) < 2147483647.0 && std::fabs(xy[1]) < 2147483647.0);
  } catch (const std::exception&) {
  }
  return 0;
}
