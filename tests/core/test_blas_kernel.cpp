// The OpenBLAS kernel override: only the generic Prescott choice is replaced, by the best kernel
// set the CPU can run.
#include <gtest/gtest.h>

#include "common/blas_kernel.h"

using namespace hiscmcl;

TEST(BlasKernel, ReplacesOnlyTheGenericPrescottChoice) {
  CpuFeatures avx512;
  avx512.avx2 = avx512.fma = true;
  avx512.avx512f = avx512.avx512bw = avx512.avx512vl = avx512.avx512dq = avx512.avx512cd = true;
  CpuFeatures avx2;
  avx2.avx2 = avx2.fma = true;
  CpuFeatures none;

  EXPECT_EQ(better_openblas_core("Prescott", avx512), "SkylakeX");
  EXPECT_EQ(better_openblas_core("prescott", avx2), "Haswell");
  EXPECT_EQ(better_openblas_core("Prescott", none), "");
  CpuFeatures partial = avx512;
  partial.avx512bw = false;  // AVX-512F alone is not enough for the SkylakeX kernels
  EXPECT_EQ(better_openblas_core("Prescott", partial), "Haswell");
  // A recognised CPU, or no OpenBLAS at all, is left alone.
  EXPECT_EQ(better_openblas_core("Haswell", avx512), "");
  EXPECT_EQ(better_openblas_core("SkylakeX", avx512), "");
  EXPECT_EQ(better_openblas_core("", avx512), "");
}
