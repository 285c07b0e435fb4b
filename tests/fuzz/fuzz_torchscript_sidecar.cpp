// parse_torchscript_sidecar: the side-car JSON of a torchscript:<file> encoder (in memory).
#include <cmath>
#include <exception>
#include <string_view>

#include "encoders/torchscript_sidecar.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hiscmcl::TorchscriptSidecar defaults;
  defaults.mean = {0.485f, 0.456f, 0.406f};
  defaults.std = {0.229f, 0.224f, 0.225f};
  try {
    auto c = hiscmcl::parse_torchscript_sidecar(
        std::string_view(reinterpret_cast<const char*>(data), size), "sidecar.json", defaults);
    FUZZ_CHECK(c.input_size > 0);
    FUZZ_CHECK(c.output_dim >= 0);
    for (int k = 0; k < 3; ++k) {
      FUZZ_CHECK(std::isfinite(c.mean[size_t(k)]));
      FUZZ_CHECK(std::isfinite(c.std[size_t(k)]) && c.std[size_t(k)] > 0);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
