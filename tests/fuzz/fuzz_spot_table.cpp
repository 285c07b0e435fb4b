// The legacy ST spot tables: read_spot_table (x y new_x new_y pixel_x pixel_y selected) and
// read_spot_labels (x y ... label), tab- or comma-separated, on the same input.
#include <cmath>
#include <exception>

#include "fuzz_common.h"
#include "io/st_legacy_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("spots", ".tsv");
  const auto& path = file.write(data, size);
  try {
    for (const auto& r : hiscmcl::read_spot_table(path)) {
      FUZZ_CHECK(std::isfinite(r.x) && std::isfinite(r.y));
      FUZZ_CHECK(std::isfinite(r.pixel_x) && std::isfinite(r.pixel_y));
      (void)hiscmcl::spot_key(r.x, r.y);
    }
  } catch (const std::exception&) {
  }
  try {
    (void)hiscmcl::read_spot_labels(path);
  } catch (const std::exception&) {
  }
  return 0;
}
