// The built binary restarts itself with OpenBLAS's best kernels when the library falls back to
// its generic ones (common/blas_kernel.h); OPENBLAS_VERBOSE=2 makes OpenBLAS print its choice at
// each load.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/blas_kernel.h"
#include "test_util.h"

using namespace hiscmcl;
using namespace hiscmcl::test;

namespace {

std::string last_core_line(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind("Core: ", 0) == 0) last = line.substr(6);
  return last;
}

}  // namespace

TEST(BlasKernels, TheBinaryDoesNotRunGenericKernelsWhereBetterOnesExist) {
  auto r = run_command(std::string("env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 '") + HISCMCL_BIN + "' --version");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("hiscmcl "), std::string::npos) << r.output;
  std::string core = last_core_line(r.output);
  if (core.empty()) GTEST_SKIP() << "LibTorch here does not use OpenBLAS";
  CpuFeatures cpu = detect_cpu_features();
  if (cpu.avx2 && cpu.fma) EXPECT_NE(core, "Prescott") << r.output;

  // A user's own OPENBLAS_CORETYPE is kept.
  auto forced = run_command(std::string("OPENBLAS_CORETYPE=Prescott OPENBLAS_VERBOSE=2 '") + HISCMCL_BIN + "' --version");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(last_core_line(forced.output), "Prescott") << forced.output;
}
