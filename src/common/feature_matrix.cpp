#include "common/feature_matrix.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace hiscmcl {

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)  // inf or nan (nan keeps a payload bit so it stays nan)
    return uint16_t(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  if (abs >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds past 65504: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return uint16_t(sign);  // under half the smallest subnormal
    const uint32_t mant = (abs & 0x007FFFFFu) | 0x00800000u;
    const int shift = 126 - int(abs >> 23);  // 14..24 bits dropped
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rest = abs & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: right
  return uint16_t(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, x;
  if (exp == 0x1F) {
    x = sign | 0x7F800000u | (mant << 13);
  } else if (exp != 0) {
    x = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    x = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while (!(mant & 0x400u));
    x = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

FeatureMatrix::FeatureMatrix(Matrix m) : rows(m.rows), cols(m.cols) {
  auto owned = std::make_shared<std::vector<float>>(std::move(m.data));
  data_ = owned->data();
  owner_ = std::move(owned);
}

FeatureMatrix FeatureMatrix::half_of(const Matrix& m) {
  auto owned = std::make_shared<std::vector<uint16_t>>(m.data.size());
  for (size_t i = 0; i < m.data.size(); ++i) (*owned)[i] = float_to_half(m.data[i]);
  const void* p = owned->data();
  return FeatureMatrix(m.rows, m.cols, FeatureDtype::float16, p, std::move(owned), false);
}

FeatureMatrix::FeatureMatrix(int64_t r, int64_t c, FeatureDtype dtype, const void* data,
                             std::shared_ptr<const void> owner, bool mapped)
    : rows(r), cols(c), dtype_(dtype), data_(data), owner_(std::move(owner)), mapped_(mapped) {}

void FeatureMatrix::read_row(int64_t r, float* out) const {
  if (cols == 0) return;
  if (dtype_ == FeatureDtype::float32) {
    std::memcpy(out, static_cast<const float*>(data_) + r * cols, size_t(cols) * sizeof(float));
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(data_) + r * cols;
    for (int64_t c = 0; c < cols; ++c) out[c] = half_to_float(p[c]);
  }
  if (standard_) {
    const double* m = standard_->mean.data();
    const double* s = standard_->sd.data();
    for (int64_t c = 0; c < cols; ++c) out[c] = float((double(out[c]) - m[c]) / s[c]);
  }
}

float FeatureMatrix::operator()(int64_t r, int64_t c) const {
  const float v = dtype_ == FeatureDtype::float32 ? static_cast<const float*>(data_)[r * cols + c]
                                                  : half_to_float(static_cast<const uint16_t*>(data_)[r * cols + c]);
  return standard_ ? float((double(v) - standard_->mean[size_t(c)]) / standard_->sd[size_t(c)]) : v;
}

FeatureMatrix FeatureMatrix::standardised(std::vector<double> mean, std::vector<double> sd) const {
  if (int64_t(mean.size()) != cols || int64_t(sd.size()) != cols)
    throw std::invalid_argument("FeatureMatrix::standardised: one mean and one sd per column");
  for (double s : sd)
    if (!(s > 0)) throw std::invalid_argument("FeatureMatrix::standardised: every sd must be > 0");
  FeatureMatrix out(rows, cols, dtype_, data_, owner_, mapped_);
  out.standard_ = std::make_shared<const Standardisation>(Standardisation{std::move(mean), std::move(sd)});
  return out;
}

FeatureMatrix standardise_over_rows(const FeatureMatrix& m) {
  if (m.is_standardised()) throw std::invalid_argument("standardise_over_rows: the matrix is standardised already");
  if (m.rows == 0 || m.cols == 0) return m;
  // Two passes in float64 (mean, then centred squares): exact enough for any row count.
  const size_t d = size_t(m.cols);
  std::vector<double> sum(d, 0.0), squares(d, 0.0);
  std::vector<float> row(d);
  for (int64_t r = 0; r < m.rows; ++r) {
    m.read_row(r, row.data());
    for (size_t c = 0; c < d; ++c) sum[c] += row[c];
  }
  std::vector<double> mean(d), sd(d);
  for (size_t c = 0; c < d; ++c) mean[c] = sum[c] / double(m.rows);
  for (int64_t r = 0; r < m.rows; ++r) {
    m.read_row(r, row.data());
    for (size_t c = 0; c < d; ++c) squares[c] += (row[c] - mean[c]) * (row[c] - mean[c]);
  }
  m.release_pages();
  for (size_t c = 0; c < d; ++c) {
    const double s = std::sqrt(squares[c] / double(m.rows));
    sd[c] = s > 1e-8 ? s : 1.0;
  }
  return m.standardised(std::move(mean), std::move(sd));
}

Matrix FeatureMatrix::to_matrix() const {
  Matrix m(rows, cols);
  for (int64_t r = 0; r < rows; ++r) read_row(r, m.row(r));
  return m;
}

void FeatureMatrix::release_pages() const {
  if (!mapped_ || bytes() == 0) return;
  // madvise wants a page-aligned start: the mapping's pages from the one holding the first value.
  static const long page = sysconf(_SC_PAGESIZE);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data_) & ~uintptr_t(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(data_) + uintptr_t(bytes());
  // Advice only: on failure the pages simply stay (they are the file's, the kernel can drop them).
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace hiscmcl
