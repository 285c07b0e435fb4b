// The .npy readers on the same input: read_npy_strings (1-D <U / |S gene panels) and
// read_npy_f32 (2-D <f4 feature caches). The output must match the header's shape.
#include <exception>

#include "fuzz_common.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("npy", ".npy");
  const auto& path = file.write(data, size);
  try {
    (void)hiscmcl::read_npy_strings(path);
  } catch (const std::exception&) {
  }
  try {
    hiscmcl::Matrix m = hiscmcl::read_npy_f32(path);
    FUZZ_CHECK(m.rows >= 0 && m.cols >= 0);
    FUZZ_CHECK(m.data.size() == size_t(m.rows) * size_t(m.cols));
  } catch (const std::exception&) {
  }
  return 0;
}
