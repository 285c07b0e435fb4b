// parse_hest_metadata on a HEST-1k sample's metadata JSON (bare NaN allowed, as HEST writes it):
// every geometry it returns is positive and finite, and a parse error is an InputError.
#include <cmath>
#include <exception>
#include <string_view>

#include "common/error.h"
#include "fuzz_common.h"
#include "io/hest_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    hiscmcl::HestMetadata m = hiscmcl::parse_hest_metadata(text, "metadata/SAMPLE.json");
    for (const auto& v : {m.pixel_size_um, m.spot_diameter_um, m.inter_spot_dist_um})
      if (v) FUZZ_CHECK(*v > 0 && std::isfinite(*v));
  } catch (const hiscmcl::InputError& e) {
    FUZZ_CHECK(std::string_view(e.what()).find("metadata/SAMPLE.json") != std::string_view::npos);
  }
  return 0;
}
