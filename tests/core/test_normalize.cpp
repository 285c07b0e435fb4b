// Spec §2.7 worked examples for both orientations, and the natural-log variant.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "data/normalize.h"

using namespace hiscmcl;

namespace {
Matrix row_matrix(std::vector<float> v, bool as_column = false) {
  Matrix m(as_column ? int64_t(v.size()) : 1, as_column ? 1 : int64_t(v.size()));
  m.data = std::move(v);
  return m;
}
}  // namespace

TEST(Normalize, PerSpotSpecExampleA) {
  // [0, 1, 3, 6] over a 4-gene panel: total 10 -> 1e4*c/10 -> log10(1 + y).
  Matrix out = normalize(row_matrix({0, 1, 3, 6}), Normalization::per_spot);
  ASSERT_EQ(out.rows, 1);
  ASSERT_EQ(out.cols, 4);
  EXPECT_FLOAT_EQ(out(0, 0), 0.f);
  EXPECT_NEAR(out(0, 1), 3.000434, 1e-5);
  EXPECT_NEAR(out(0, 2), 3.477266, 1e-5);
  EXPECT_NEAR(out(0, 3), 3.778224, 1e-5);
}

TEST(Normalize, PerGeneSpecExampleB) {
  // One gene over 3 spots [2, 0, 8]: normalised along the gene (column).
  Matrix out = normalize(row_matrix({2, 0, 8}, true), Normalization::per_gene_compat);
  ASSERT_EQ(out.rows, 3);
  EXPECT_NEAR(out(0, 0), 3.301247, 1e-5);
  EXPECT_FLOAT_EQ(out(1, 0), 0.f);
  EXPECT_NEAR(out(2, 0), 3.903144, 1e-5);
}

TEST(Normalize, PerSpotNaturalLogAndZeroRows) {
  Matrix m(2, 4);
  m.data = {0, 1, 3, 6, 0, 0, 0, 0};
  Matrix out = normalize(m, Normalization::per_spot_ln);
  EXPECT_NEAR(out(0, 1), 6.908755, 1e-5);  // ln(1 + 1000)
  EXPECT_NEAR(out(0, 2), 8.006701, 1e-5);  // ln(1 + 3000)
  EXPECT_NEAR(out(0, 3), 8.699681, 1e-5);  // ln(1 + 6000)
  for (int c = 0; c < 4; ++c) EXPECT_EQ(out(1, c), 0.f) << "a zero row stays zero";
}

TEST(Normalize, PerSpotUsesEachRowsOwnTotal) {
  // Rows with different depths but the same proportions give the same values.
  Matrix m(2, 2);
  m.data = {1, 3, 10, 30};
  Matrix out = normalize(m, Normalization::per_spot);
  EXPECT_NEAR(out(0, 0), std::log10(1 + 2500.0), 1e-5);
  EXPECT_FLOAT_EQ(out(0, 0), out(1, 0));
  EXPECT_FLOAT_EQ(out(0, 1), out(1, 1));
}

TEST(Normalize, ParseNames) {
  EXPECT_EQ(parse_normalization("per_spot"), Normalization::per_spot);
  EXPECT_EQ(parse_normalization("per_gene_compat"), Normalization::per_gene_compat);
  EXPECT_EQ(parse_normalization("per_spot_ln"), Normalization::per_spot_ln);
  EXPECT_EQ(to_string(Normalization::per_gene_compat), "per_gene_compat");
  EXPECT_THROW(parse_normalization("log2"), std::invalid_argument);
}
