// Invariants of a CountsTable that read_counts_tsv returns (shared by the plain and gzip targets).
#pragma once
#include <cmath>

#include "fuzz_common.h"
#include "io/st_legacy_reader.h"

namespace hiscmcl::fuzz {

inline void check_counts_table(const CountsTable& t) {
  const SparseCounts& c = t.counts;
  FUZZ_CHECK(!t.genes.empty());
  FUZZ_CHECK(c.cols == int64_t(t.genes.size()));
  FUZZ_CHECK(c.rows == int64_t(t.spot_ids.size()));
  FUZZ_CHECK(c.indptr.size() == size_t(c.rows) + 1);
  FUZZ_CHECK(c.indptr.front() == 0 && c.indptr.back() == int64_t(c.values.size()));
  FUZZ_CHECK(c.indices.size() == c.values.size());
  for (int64_t r = 0; r < c.rows; ++r) {
    FUZZ_CHECK(c.indptr[size_t(r)] <= c.indptr[size_t(r) + 1]);
    for (int64_t k = c.indptr[size_t(r)] + 1; k < c.indptr[size_t(r) + 1]; ++k)
      FUZZ_CHECK(c.indices[size_t(k - 1)] < c.indices[size_t(k)]);  // sorted, no duplicates
  }
  for (size_t k = 0; k < c.values.size(); ++k) {
    FUZZ_CHECK(c.indices[k] >= 0 && c.indices[k] < c.cols);
    FUZZ_CHECK(std::isfinite(c.values[k]) && c.values[k] > 0);  // zeros are not stored
  }
}

}  // namespace hiscmcl::fuzz
