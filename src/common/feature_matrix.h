// A read-only [rows, cols] matrix of image features stored as float32 or float16, either owned in
// memory or a view of a memory-mapped file (the feature cache, io/npy.h): 10^6 spots x 1,536-d is
// 6 GB as float16 and costs no memory until rows are read. Rows are read as float32.
// float16 is IEEE binary16, rounded to nearest even; values past its range become infinities
// (encoder features are far inside it).
// A matrix may carry a per-column standardisation, (x - mean[c]) / sd[c], applied on every read
// (read_row, operator(), to_matrix): a section's features z-scored over its own spots without
// copying a mapped file. data() and bytes() are always the stored values.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

enum class FeatureDtype { float32, float16 };

uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
inline int64_t dtype_bytes(FeatureDtype d) { return d == FeatureDtype::float16 ? 2 : 4; }

class FeatureMatrix {
 public:
  FeatureMatrix() = default;
  // Owns the values of m (float32). Implicit: a Matrix is a feature matrix.
  FeatureMatrix(Matrix m);  // NOLINT(google-explicit-constructor)
  // m rounded to float16 (owned).
  static FeatureMatrix half_of(const Matrix& m);
  // A view of rows*cols values at data, kept alive by owner (e.g. a file mapping).
  FeatureMatrix(int64_t rows, int64_t cols, FeatureDtype dtype, const void* data,
                std::shared_ptr<const void> owner, bool mapped);

  int64_t rows = 0, cols = 0;
  FeatureDtype dtype() const { return dtype_; }
  const void* data() const { return data_; }
  bool mapped() const { return mapped_; }
  int64_t bytes() const { return rows * cols * dtype_bytes(dtype_); }

  // Row r as float32 into out[cols] (standardised when the matrix carries a standardisation).
  void read_row(int64_t r, float* out) const;
  float operator()(int64_t r, int64_t c) const;
  Matrix to_matrix() const;  // every value as float32 (a copy)
  // Mapped files: hand the pages read so far back to the page cache (they stay cached, not
  // counted against this process); the next read faults them in again. No-op when owned.
  void release_pages() const;

  // The same storage read as (x - mean[c]) / sd[c], computed in double (a large offset beside a
  // small spread keeps its digits); mean and sd have cols entries, sd > 0.
  FeatureMatrix standardised(std::vector<double> mean, std::vector<double> sd) const;
  bool is_standardised() const { return bool(standard_); }
  // What a resident float32-or-stored table of these values takes: standardised values are float32.
  int64_t resident_bytes() const { return is_standardised() ? rows * cols * 4 : bytes(); }

 private:
  struct Standardisation {
    std::vector<double> mean, sd;
  };
  FeatureDtype dtype_ = FeatureDtype::float32;
  const void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
  bool mapped_ = false;
  std::shared_ptr<const Standardisation> standard_;
};

// m z-scored over its own rows: column means and population sds (float64; sd below 1e-8 -> 1, a
// constant column becomes 0). No rows: m unchanged.
FeatureMatrix standardise_over_rows(const FeatureMatrix& m);

}  // namespace hiscmcl
