// A read-only [rows, cols] matrix of image features stored as float32 or float16, either owned in
// memory or a view of a memory-mapped file (the feature cache, io/npy.h): 10^6 spots x 1,536-d is
// 6 GB as float16 and costs no memory until rows are read. Rows are read as float32.
// float16 is IEEE binary16, rounded to nearest even; values past its range become infinities
// (encoder features are far inside it).
#pragma once
#include <cstdint>
#include <memory>

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

  // Row r as float32 into out[cols].
  void read_row(int64_t r, float* out) const;
  float operator()(int64_t r, int64_t c) const;
  Matrix to_matrix() const;  // every value as float32 (a copy)
  // Mapped files: hand the pages read so far back to the page cache (they stay cached, not
  // counted against this process); the next read faults them in again. No-op when owned.
  void release_pages() const;

 private:
  FeatureDtype dtype_ = FeatureDtype::float32;
  const void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
  bool mapped_ = false;
};

}  // namespace hiscmcl
