// Plain row-major float matrices and CSR sparse counts. No LibTorch here on purpose: most of
// the pipeline (readers, normalisation, metrics) is plain maths that compiles fast.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hiscmcl {

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major, rows*cols

  Matrix() = default;
  Matrix(int64_t r, int64_t c, float fill = 0.f) : rows(r), cols(c), data(size_t(r * c), fill) {}
  float& operator()(int64_t r, int64_t c) { return data[size_t(r * cols + c)]; }
  float operator()(int64_t r, int64_t c) const { return data[size_t(r * cols + c)]; }
  float* row(int64_t r) { return data.data() + r * cols; }
  const float* row(int64_t r) const { return data.data() + r * cols; }
};

// Compressed sparse rows: spots x genes raw counts.
struct SparseCounts {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> indptr;  // rows + 1
  std::vector<int32_t> indices;
  std::vector<float> values;

  // Dense rows x columns.size() matrix of the chosen columns (-1 entries give zero columns).
  Matrix dense_columns(const std::vector<int64_t>& columns) const;
  Matrix dense() const;
  static SparseCounts from_dense(const Matrix& m);
  // Keeps only the listed rows, in that order.
  SparseCounts select_rows(const std::vector<int64_t>& rows_to_keep) const;
};

}  // namespace hiscmcl
