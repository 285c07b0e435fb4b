// Invariants of what the HDF5 readers return (fuzz_h5ad, fuzz_10x_h5).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/matrix.h"
#include "fuzz_common.h"

// libhdf5 (not instrumented, not ours) leaks what it allocated on some error paths of corrupt
// files (H5O_msg_read_oh under H5D_open, for one, when a layout message fails to decode). Those
// are reported as known and ignored; a leak with no libhdf5 frame still fails the run. Our
// unclosed identifiers would not show as leaks anyway (HDF5's ID table keeps them reachable).
// Included by one translation unit per target, so defined once per executable.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\n"; }
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }
// libhdf5 also mallocs whatever size a corrupt metadata entry claims before reading it
// (H5C_protect: an object header "of" 2 GiB or 0x54...00 bytes), finds the read past the end of
// the file and frees it untouched; when malloc returns NULL (glibc's does for absurd sizes) the
// call fails. Either way an InputError for us. Under ASan such a malloc aborts (too big), or is
// reported by libFuzzer's malloc limit, or takes seconds (2 GiB of shadow memory poisoned), so
// here malloc/calloc above 1 GiB return NULL. ASan's operator new still reports a failed
// allocation: a huge std::vector of ours (check_plausible allows < 1 GiB for these inputs)
// remains a crash, as it should.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

namespace hiscmcl::fuzz {

// A well-formed CSR matrix of rows x cols: the readers' SparseCounts (indices need not be sorted
// within a row: 10x and AnnData files do not promise it).
inline void check_csr(const SparseCounts& c, int64_t rows, int64_t cols) {
  FUZZ_CHECK(c.rows == rows && c.cols == cols);
  FUZZ_CHECK(c.indptr.size() == size_t(rows) + 1);
  FUZZ_CHECK(c.indptr.front() == 0 && c.indptr.back() == int64_t(c.values.size()));
  FUZZ_CHECK(c.indices.size() == c.values.size());
  for (int64_t r = 0; r < rows; ++r) FUZZ_CHECK(c.indptr[size_t(r)] <= c.indptr[size_t(r) + 1]);
  for (int32_t j : c.indices) FUZZ_CHECK(j >= 0 && j < cols);
}

}  // namespace hiscmcl::fuzz
