#include "common/matrix.h"

#include <unordered_map>

namespace hiscmcl {

Matrix SparseCounts::dense_columns(const std::vector<int64_t>& columns) const {
  Matrix m(rows, int64_t(columns.size()));
  std::unordered_map<int64_t, int64_t> where;
  where.reserve(columns.size() * 2);
  for (size_t j = 0; j < columns.size(); ++j)
    if (columns[j] >= 0) where[columns[j]] = int64_t(j);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      auto it = where.find(indices[k]);
      if (it != where.end()) m(r, it->second) = values[k];
    }
  return m;
}

Matrix SparseCounts::dense() const {
  Matrix m(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) m(r, indices[k]) = values[k];
  return m;
}

SparseCounts SparseCounts::from_dense(const Matrix& m) {
  SparseCounts s;
  s.rows = m.rows;
  s.cols = m.cols;
  s.indptr.assign(size_t(m.rows + 1), 0);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) {
      float v = m(r, c);
      if (v != 0.f) {
        s.indices.push_back(int32_t(c));
        s.values.push_back(v);
      }
    }
    s.indptr[size_t(r + 1)] = int64_t(s.values.size());
  }
  return s;
}

SparseCounts SparseCounts::select_rows(const std::vector<int64_t>& keep) const {
  SparseCounts s;
  s.rows = int64_t(keep.size());
  s.cols = cols;
  s.indptr.push_back(0);
  for (int64_t r : keep) {
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      s.indices.push_back(indices[k]);
      s.values.push_back(values[k]);
    }
    s.indptr.push_back(int64_t(s.values.size()));
  }
  return s;
}

}  // namespace hiscmcl
