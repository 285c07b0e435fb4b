// read_tissue_positions: Visium spatial/tissue_positions_list.csv (v1, no header) or
// tissue_positions.csv (v2, with a header).
#include <cmath>
#include <exception>

#include "fuzz_common.h"
#include "io/visium_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("positions", ".csv");
  try {
    for (const auto& p : hiscmcl::read_tissue_positions(file.write(data, size))) {
      FUZZ_CHECK(std::isfinite(p.array_row) && std::isfinite(p.array_col));
      FUZZ_CHECK(std::isfinite(p.pxl_row) && std::isfinite(p.pxl_col));
    }
  } catch (const std::exception&) {
  }
  return 0;
}
