// Invariants of what the HDF5 readers return (fuzz_h5ad, fuzz_10x_h5).
#pragma once
#include <cmath>
#include <cstdint>

#include "common/matrix.h"
#include "fuzz_common.h"

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
