// Per-gene stacking: the weight follows the better predictor per gene, the blend of two predictors
// with independent errors beats each, and the output sits on the first predictor's scale.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/metrics.h"
#include "predict/gene_blend.h"

using namespace hiscmcl;

namespace {
double column_pcc(const Matrix& a, const Matrix& b, int64_t g) {
  std::vector<float> x(size_t(a.rows)), y(size_t(a.rows));
  for (int64_t i = 0; i < a.rows; ++i) x[size_t(i)] = a(i, g), y[size_t(i)] = b(i, g);
  return pearson(x.data(), y.data(), a.rows);
}

// Gene 0: a is the truth plus small noise, b pure noise. Gene 1: the reverse. Gene 2: both are the
// truth plus independent noise of equal size, so their average is better than either.
BlendSection make_section(std::mt19937_64& rng, int n) {
  std::normal_distribution<float> N(0.f, 1.f);
  BlendSection s{Matrix(n, 3), Matrix(n, 3), Matrix(n, 3)};
  for (int i = 0; i < n; ++i) {
    for (int g = 0; g < 3; ++g) s.truth(i, g) = 5 + N(rng);
    s.a(i, 0) = s.truth(i, 0) + 0.3f * N(rng), s.b(i, 0) = 5 + N(rng);
    s.a(i, 1) = 5 + N(rng), s.b(i, 1) = s.truth(i, 1) + 0.3f * N(rng);
    s.a(i, 2) = 0.1f * (s.truth(i, 2) + N(rng)), s.b(i, 2) = 10 * (s.truth(i, 2) + N(rng));  // scales differ
  }
  return s;
}
}  // namespace

TEST(GeneBlend, WeightsFollowTheBetterPredictorPerGene) {
  std::mt19937_64 rng(1);
  std::vector<BlendSection> train;
  for (int t = 0; t < 4; ++t) train.push_back(make_section(rng, 200));
  GeneBlend blend = fit_gene_blend(train);
  ASSERT_EQ(blend.weight.size(), 3u);
  EXPECT_GE(blend.weight[0], 0.9);
  EXPECT_LE(blend.weight[1], 0.1);
  EXPECT_NEAR(blend.weight[2], 0.5, 0.1);  // equal errors, whatever the scales: the average
  EXPECT_NEAR(blend.mean_weight(), (blend.weight[0] + blend.weight[1] + blend.weight[2]) / 3, 1e-12);

  // On a new section the blend of gene 2 beats both predictors, and sits on a's scale.
  BlendSection test = make_section(rng, 400);
  Matrix out = apply_gene_blend(blend, test.a, test.b);
  const double pa = column_pcc(test.a, test.truth, 2), pb = column_pcc(test.b, test.truth, 2);
  const double pblend = column_pcc(out, test.truth, 2);
  EXPECT_GT(pblend, std::max(pa, pb) + 0.05) << pa << " " << pb << " " << pblend;
  EXPECT_GT(column_pcc(out, test.truth, 0), 0.9);
  double mean_out = 0, mean_a = 0;
  for (int64_t i = 0; i < out.rows; ++i) mean_out += out(i, 2), mean_a += test.a(i, 2);
  EXPECT_NEAR(mean_out / out.rows, mean_a / out.rows, 1e-4);
  double ss_out = 0, ss_a = 0;  // and a's sd: the mix of two z-scores is restandardised
  for (int64_t i = 0; i < out.rows; ++i)
    ss_out += std::pow(out(i, 2) - mean_out / out.rows, 2), ss_a += std::pow(test.a(i, 2) - mean_a / out.rows, 2);
  EXPECT_NEAR(std::sqrt(ss_out / ss_a), 1.0, 1e-3);
}

TEST(GeneBlend, WeightOneGivesTheFirstPredictorAndBadShapesThrow) {
  GeneBlend one{{1.0, 0.0}};
  Matrix a(3, 2), b(3, 2);
  for (int i = 0; i < 3; ++i) a(i, 0) = float(i), a(i, 1) = 2.f, b(i, 0) = float(-i), b(i, 1) = float(i * i);
  Matrix out = apply_gene_blend(one, a, b);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(out(i, 0), a(i, 0), 1e-6);
  // gene 1: a constant, weight on b: b's pattern around a's mean, on b's spread
  EXPECT_LT(out(0, 1), out(1, 1));
  EXPECT_LT(out(1, 1), out(2, 1));
  EXPECT_NEAR((out(0, 1) + out(1, 1) + out(2, 1)) / 3, 2.0, 1e-5);
  EXPECT_THROW(apply_gene_blend(GeneBlend{{1.0}}, a, b), std::invalid_argument);
  EXPECT_THROW(fit_gene_blend({}), std::invalid_argument);
  EXPECT_THROW(fit_gene_blend({BlendSection{a, Matrix(2, 2), a}}), std::invalid_argument);
}
