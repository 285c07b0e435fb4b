// OpenBLAS picks its matrix kernels from the CPU model at load time. Debian's OpenBLAS 0.3.21 does
// not know recent Xeons (Sapphire Rapids here reports "Intel(R) Xeon(R) Processor") and falls back
// to its generic "Prescott" SSE3 kernels: training then ran 2.4x slower than with the AVX-512
// kernels it has (docs/BENCHMARKS.md). The choice can only be forced through OPENBLAS_CORETYPE
// before the library loads, so the program restarts itself once with it set.
#pragma once
#include <string>

namespace hiscmcl {

struct CpuFeatures {
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
};
CpuFeatures detect_cpu_features();

// The OpenBLAS core to force, or "" to leave the library's choice: only when it chose the generic
// Prescott kernels on a CPU that runs better ones (SkylakeX with AVX-512, else Haswell with AVX2).
std::string better_openblas_core(const std::string& chosen_core, const CpuFeatures& cpu);

// The core the loaded OpenBLAS uses ("" when the process has no OpenBLAS).
std::string loaded_openblas_core();

// When OpenBLAS runs generic kernels on a CPU with better ones and OPENBLAS_CORETYPE is unset:
// sets it and re-executes /proc/self/exe with argv. Returns only when nothing was done or exec
// failed (then the run goes on with the slow kernels).
void restart_with_better_blas_kernels(char** argv);

}  // namespace hiscmcl
