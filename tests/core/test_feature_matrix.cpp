// Feature matrices (float32/float16, owned or memory-mapped) and their .npy files: IEEE half
// rounding at the edges that matter (ties to even, the largest finite value, subnormals), npy files
// written in either dtype and read back mapped or copied, and bad files refused naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "common/error.h"
#include "common/feature_matrix.h"
#include "io/npy.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

float round_trip(float f) { return half_to_float(float_to_half(f)); }

}  // namespace

TEST(Half, ExactValuesRoundTrip) {
  for (float f : {0.f, 1.f, -1.f, 0.5f, 2048.f, -3.75f, 65504.f, 6.103515625e-05f /* 2^-14 */,
                  5.9604644775390625e-08f /* 2^-24, smallest subnormal */})
    EXPECT_EQ(round_trip(f), f) << f;
  EXPECT_EQ(float_to_half(1.f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.f), 0xC000);
  EXPECT_EQ(float_to_half(65504.f), 0x7BFF);
  EXPECT_EQ(float_to_half(5.9604644775390625e-08f), 0x0001);
  EXPECT_TRUE(std::signbit(round_trip(-0.f)));
}

TEST(Half, RoundsToNearestEven) {
  const float ulp = 1.f / 1024;  // at 1.0
  EXPECT_EQ(round_trip(1.f + ulp / 2), 1.f);                  // tie, 1.0 is even
  EXPECT_EQ(round_trip(1.f + 3 * ulp / 2), 1.f + 2 * ulp);    // tie, rounds up to even
  EXPECT_EQ(round_trip(1.f + ulp / 2 + ulp / 64), 1.f + ulp);  // past the tie
  EXPECT_EQ(round_trip(2047.5f), 2048.f);                      // tie at the carry into the exponent
  EXPECT_EQ(round_trip(1.f + ulp * 0.49f), 1.f);
}

TEST(Half, RangeEdges) {
  EXPECT_EQ(round_trip(65519.f), 65504.f);
  EXPECT_TRUE(std::isinf(round_trip(65520.f)));  // the tie past the largest finite value
  EXPECT_TRUE(std::isinf(round_trip(1e6f)));
  EXPECT_LT(round_trip(-1e6f), 0.f);
  EXPECT_TRUE(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  const float sub = 5.9604644775390625e-08f;
  EXPECT_EQ(round_trip(sub / 2), 0.f);          // tie between 0 and the smallest subnormal: 0
  EXPECT_EQ(round_trip(sub / 2 * 1.01f), sub);  // past it
  EXPECT_EQ(round_trip(3 * sub), 3 * sub);
  EXPECT_EQ(round_trip(2.5f * sub), 2 * sub);  // subnormal tie to even
}

TEST(Half, ErrorWithinHalfAnUlpOverAWideRange) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> exponent(-20, 15), mantissa(1, 2);
  for (int i = 0; i < 100000; ++i) {
    const float f = std::ldexp(mantissa(rng), int(exponent(rng))) * (i % 2 ? -1 : 1);
    const float h = round_trip(f);
    int e;
    std::frexp(f, &e);
    const float half_ulp = std::ldexp(1.f, std::max(e - 1, -14) - 11);  // 10 mantissa bits
    ASSERT_LE(std::fabs(h - f), half_ulp) << f;
  }
}

TEST(FeatureMatrix, OwnedFloat32AndFloat16) {
  Matrix m(3, 4);
  for (int64_t i = 0; i < 12; ++i) m.data[size_t(i)] = 0.1f * float(i) - 0.5f;
  FeatureMatrix a(m);
  EXPECT_EQ(a.dtype(), FeatureDtype::float32);
  EXPECT_EQ(a.bytes(), 48);
  EXPECT_EQ(a(2, 3), m(2, 3));
  FeatureMatrix h = FeatureMatrix::half_of(m);
  EXPECT_EQ(h.dtype(), FeatureDtype::float16);
  EXPECT_EQ(h.bytes(), 24);
  Matrix back = h.to_matrix();
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(back.data[size_t(i)], round_trip(m.data[size_t(i)]));
    EXPECT_NEAR(back.data[size_t(i)], m.data[size_t(i)], 1e-3);
  }
  std::vector<float> row(4);
  h.read_row(1, row.data());
  EXPECT_EQ(row[2], back(1, 2));
}

TEST(FeatureMatrix, NpyInBothDtypesMappedAndCopied) {
  test::TempDir dir;
  Matrix m(5, 7);
  std::mt19937 rng(1);
  std::normal_distribution<float> z;
  for (float& v : m.data) v = z(rng);
  for (FeatureDtype dtype : {FeatureDtype::float32, FeatureDtype::float16}) {
    const fs::path p = dir / (dtype == FeatureDtype::float16 ? "h.npy" : "f.npy");
    write_npy_features(p, m, dtype);
    // The header numpy reads: '<f2' or '<f4', C order, the shape.
    std::ifstream f(p, std::ios::binary);
    std::string head(128, '\0');
    f.read(head.data(), 128);
    EXPECT_NE(head.find(dtype == FeatureDtype::float16 ? "'<f2'" : "'<f4'"), std::string::npos);
    EXPECT_NE(head.find("(5, 7)"), std::string::npos);
    EXPECT_EQ(fs::file_size(p), 128 + uint64_t(35 * dtype_bytes(dtype)));

    FeatureMatrix mapped = map_npy_features(p);
    EXPECT_TRUE(mapped.mapped());
    EXPECT_EQ(mapped.dtype(), dtype);
    ASSERT_EQ(mapped.rows, 5);
    ASSERT_EQ(mapped.cols, 7);
    Matrix copied = read_npy_f32(p);
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t c = 0; c < 7; ++c) {
        const float want = dtype == FeatureDtype::float16 ? round_trip(m(r, c)) : m(r, c);
        EXPECT_EQ(mapped(r, c), want);
        EXPECT_EQ(copied(r, c), want);
      }
    mapped.release_pages();  // the values come back from the file
    EXPECT_EQ(mapped(4, 6), dtype == FeatureDtype::float16 ? round_trip(m(4, 6)) : m(4, 6));
  }
}

TEST(FeatureMatrix, MappingOutlivesItsSource) {
  test::TempDir dir;
  Matrix m(2, 2, 1.5f);
  write_npy_features(dir / "a.npy", m, FeatureDtype::float16);
  FeatureMatrix copy;
  {
    FeatureMatrix mapped = map_npy_features(dir / "a.npy");
    copy = mapped;
  }
  EXPECT_EQ(copy(1, 1), 1.5f);
}

TEST(FeatureMatrix, BadFilesNameTheFile) {
  test::TempDir dir;
  Matrix m(4, 3, 2.f);
  write_npy_features(dir / "ok.npy", m, FeatureDtype::float16);
  // Truncated: the header promises 4x3 halves.
  {
    std::ifstream in(dir / "ok.npy", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(dir / "short.npy", std::ios::binary);
    out << bytes.substr(0, bytes.size() - 3);
  }
  for (const char* name : {"short.npy", "missing.npy"}) {
    const fs::path p = dir / name;
    try {
      map_npy_features(p);
      ADD_FAILURE() << name << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_npy_f32(dir / "short.npy"), InputError);
}

TEST(FeatureMatrix, EmptyAndUnalignedFilesKeepTheirValuesAndDtype) {
  test::TempDir dir;
  write_npy_features(dir / "empty.npy", Matrix(0, 5), FeatureDtype::float16);
  FeatureMatrix empty = map_npy_features(dir / "empty.npy");
  EXPECT_EQ(empty.dtype(), FeatureDtype::float16);  // a float16 cache of no spots is still float16
  EXPECT_EQ(empty.rows, 0);
  EXPECT_EQ(empty.cols, 5);
  // A header of odd length (numpy pads to 16 or 64; another writer may not): the values after
  // it are still read right, from aligned memory.
  std::string dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 3), }";
  if ((10 + dict.size() + 1) % 2 == 0) dict += ' ';
  dict += '\n';
  const uint16_t values[3] = {float_to_half(1.5f), float_to_half(-2.f), float_to_half(0.25f)};
  {
    std::ofstream f(dir / "odd.npy", std::ios::binary);
    f.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {char(dict.size() & 0xFF), char(dict.size() >> 8)};
    f.write(len, 2);
    f << dict;
    f.write(reinterpret_cast<const char*>(values), sizeof(values));
  }
  FeatureMatrix odd = map_npy_features(dir / "odd.npy");
  EXPECT_FALSE(odd.mapped());
  EXPECT_EQ(odd(0, 0), 1.5f);
  EXPECT_EQ(odd(0, 1), -2.f);
  EXPECT_EQ(odd(0, 2), 0.25f);
}

TEST(FeatureMatrix, StandardisedOverItsOwnRows) {
  // Column means and population sds of the values as stored (float16 rounded first); a constant
  // column reads as 0; the stored bytes stay as they were.
  test::TempDir dir;
  for (FeatureDtype dtype : {FeatureDtype::float32, FeatureDtype::float16}) {
    Matrix m(40, 3);
    std::mt19937 rng(3);
    std::normal_distribution<float> z;
    for (int64_t r = 0; r < 40; ++r) {
      m(r, 0) = 5.0f + 2.0f * z(rng);
      // A large offset beside a small spread (float32 keeps ~4 digits of it, float16 none).
      m(r, 1) = dtype == FeatureDtype::float32 ? -100.0f + 0.01f * z(rng) : 1000.0f + 3.0f * z(rng);
      m(r, 2) = 7.0f;  // constant
    }
    write_npy_features(dir / "f.npy", m, dtype);
    const FeatureMatrix raw = map_npy_features(dir / "f.npy");
    const FeatureMatrix s = standardise_over_rows(raw);
    EXPECT_TRUE(s.is_standardised());
    EXPECT_FALSE(raw.is_standardised());
    EXPECT_EQ(s.bytes(), raw.bytes());
    EXPECT_EQ(s.resident_bytes(), 40 * 3 * 4);
    const Matrix v = s.to_matrix(), stored = raw.to_matrix();
    for (int64_t c = 0; c < 2; ++c) {
      double mean = 0, sq = 0, smean = 0, ssq = 0;
      for (int64_t r = 0; r < 40; ++r) mean += v(r, c), smean += stored(r, c);
      mean /= 40, smean /= 40;
      for (int64_t r = 0; r < 40; ++r) sq += v(r, c) * v(r, c), ssq += (stored(r, c) - smean) * (stored(r, c) - smean);
      EXPECT_NEAR(mean, 0.0, 1e-5) << c;
      EXPECT_NEAR(std::sqrt(sq / 40), 1.0, 1e-4) << c;
      // Each value is (stored - mean) / sd of the stored column.
      const double sd = std::sqrt(ssq / 40);
      EXPECT_NEAR(v(7, c), (stored(7, c) - smean) / sd, 1e-5) << c;
    }
    for (int64_t r = 0; r < 40; ++r) EXPECT_EQ(v(r, 2), 0.0f);
    std::vector<float> row(3);
    s.read_row(11, row.data());
    EXPECT_EQ(row[0], s(11, 0));
    EXPECT_EQ(row[1], v(11, 1));
    EXPECT_THROW(standardise_over_rows(s), std::invalid_argument);  // twice would compose wrongly
  }
  const FeatureMatrix three(Matrix(2, 3));
  EXPECT_THROW(three.standardised({0, 0}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(three.standardised({0, 0, 0}, {1, 0, 1}), std::invalid_argument);
}
