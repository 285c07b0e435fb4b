// Evaluation metrics (METHOD.md §8.8) on hand-made matrices with hand-computed answers.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/metrics.h"

using namespace hiscmcl;

namespace {
// 4 spots x 3 genes, column-wise: truth g0 = 1..4, g1 constant 5, g2 = [0,0,0,4].
Matrix make(std::initializer_list<std::initializer_list<float>> cols) {
  int64_t g = int64_t(cols.size()), n = int64_t(cols.begin()->size());
  Matrix m(n, g);
  int64_t j = 0;
  for (auto& c : cols) {
    int64_t i = 0;
    for (float v : c) m(i++, j) = v;
    ++j;
  }
  return m;
}
}  // namespace

TEST(Metrics, PearsonKnownValues) {
  double a[] = {1, 2, 3, 4}, b[] = {2, 4, 6, 8}, c[] = {4, 0, 0, 0}, d[] = {0, 0, 0, 4};
  EXPECT_NEAR(pearson(a, b, 4), 1.0, 1e-12);
  EXPECT_NEAR(pearson(c, d, 4), -1.0 / 3.0, 1e-12);  // deviations [3,-1,-1,-1]·[-1,-1,-1,3] = -4 / 12
}

TEST(Metrics, PearsonOfConstantVectorIsNaN) {  // METHOD.md §8.8
  float a[] = {0.1f, 0.1f, 0.1f}, b[] = {1, 2, 3};
  EXPECT_TRUE(std::isnan(pearson(a, b, 3)));
  EXPECT_TRUE(std::isnan(pearson(b, a, 3)));
  EXPECT_TRUE(std::isnan(pearson(b, b, 1)));
}

TEST(Metrics, IncompleteBetaMatchesScipy) {
  EXPECT_NEAR(incomplete_beta(2, 3, 0.5), 0.6875, 1e-12);  // exact: polynomial case
  EXPECT_NEAR(incomplete_beta(0.5, 0.5, 0.3), 0.3690101195655454, 1e-10);
  EXPECT_NEAR(incomplete_beta(10, 0.5, 0.99), 0.6579281751567843, 1e-10);
  EXPECT_EQ(incomplete_beta(2, 3, 0.0), 0.0);
  EXPECT_EQ(incomplete_beta(2, 3, 1.0), 1.0);
}

TEST(Metrics, PearsonPValueTwoSidedT) {
  EXPECT_NEAR(pearson_p_value(0.5, 10), 0.1411, 5e-5);  // t = 1.633, 8 df
  EXPECT_NEAR(pearson_p_value(0.5, 10), 0.14111328125, 1e-10);
  EXPECT_NEAR(pearson_p_value(-1.0 / 3.0, 4), 2.0 / 3.0, 1e-10);
  EXPECT_NEAR(pearson_p_value(0.9, 5), 0.03738607346849863, 1e-10);
  EXPECT_NEAR(pearson_p_value(0.1, 1000), 0.0015441161074010912, 1e-10);
  EXPECT_EQ(pearson_p_value(1.0, 10), 0.0);
  EXPECT_TRUE(std::isnan(pearson_p_value(std::nan(""), 10)));
  EXPECT_TRUE(std::isnan(pearson_p_value(0.5, 2)));
}

TEST(Metrics, EvaluateSectionHandComputed) {
  Matrix truth = make({{1, 2, 3, 4}, {5, 5, 5, 5}, {0, 0, 0, 4}});
  Matrix pred = make({{2, 4, 6, 8}, {1, 2, 3, 4}, {4, 0, 0, 0}});
  SectionMetrics m = evaluate_section(pred, truth, /*top=*/2);
  ASSERT_EQ(m.pcc.size(), 3u);
  EXPECT_NEAR(m.pcc[0], 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(m.pcc[1]));
  EXPECT_NEAR(m.pcc[2], -1.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.truth_mean[0], 2.5, 1e-12);
  EXPECT_NEAR(m.truth_mean[1], 5.0, 1e-12);
  EXPECT_NEAR(m.truth_var[0], 1.25, 1e-12);
  EXPECT_NEAR(m.truth_var[2], 3.0, 1e-12);
  EXPECT_NEAR(m.p_value[2], 2.0 / 3.0, 1e-10);
  EXPECT_NEAR(m.acg, (1.0 - 1.0 / 3.0) / 2, 1e-12);  // ACG skips the NaN gene
  // HEG top 2 by mean = g1 (5), g0 (2.5): NaN is not dropped (METHOD.md §9.15) ...
  EXPECT_TRUE(std::isnan(m.heg));
  EXPECT_NEAR(m.heg_nan_dropped, 1.0, 1e-12);  // ... unless asked
  // HVG top 2 by variance = g2 (3), g0 (1.25).
  EXPECT_NEAR(m.hvg, (1.0 - 1.0 / 3.0) / 2, 1e-12);
  // Errors: squares 30 + 30 + 32 over 12 entries; absolutes 10 + 10 + 8.
  EXPECT_NEAR(m.mse, 92.0 / 12.0, 1e-9);
  EXPECT_NEAR(m.mae, 28.0 / 12.0, 1e-9);
  EXPECT_EQ(m.n_spots, 4);

  SectionMetrics one = evaluate_section(pred, truth, /*top=*/1);
  EXPECT_TRUE(std::isnan(one.heg));
  EXPECT_TRUE(std::isnan(one.heg_nan_dropped));
  EXPECT_NEAR(one.hvg, -1.0 / 3.0, 1e-12);
  SectionMetrics all = evaluate_section(pred, truth, /*top=*/50);  // top > G: all genes
  EXPECT_TRUE(std::isnan(all.heg));
  EXPECT_NEAR(all.hvg, all.acg, 1e-12);
}

TEST(Metrics, EvaluateSectionRejectsShapeMismatch) {
  EXPECT_THROW(evaluate_section(Matrix(3, 2), Matrix(3, 3)), std::invalid_argument);
}

TEST(Metrics, TopIndicesDescendingTiesToLowerIndex) {
  std::vector<double> v = {1, 3, 3, std::nan(""), 2};
  EXPECT_EQ(top_indices(v, 3), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(top_indices(v, 10).size(), 5u);
}

TEST(Metrics, MeanSdIsSampleSd) {
  MeanSd r = mean_sd({1, 2, 3, 4});
  EXPECT_NEAR(r.mean, 2.5, 1e-12);
  EXPECT_NEAR(r.sd, std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_TRUE(std::isnan(mean_sd({7}).sd));
}

TEST(Metrics, GeneRankingByMeanNegLog10P) {
  SectionMetrics a, b;
  a.p_value = {1e-2, 1e-4, std::nan("")};
  a.pcc = {0.2, 0.5, std::nan("")};
  b.p_value = {1e-6, 1e-1, 0.5};
  b.pcc = {0.6, 0.1, 0.0};
  auto r = rank_genes_by_log10p({"A", "B", "C"}, {a, b}, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].gene, "A");  // (2 + 6) / 2 = 4 beats B's (4 + 1) / 2 = 2.5
  EXPECT_NEAR(r[0].mean_neg_log10_p, 4.0, 1e-9);
  EXPECT_NEAR(r[0].mean_pcc, 0.4, 1e-12);
  EXPECT_EQ(r[0].best_section, 1);
  EXPECT_EQ(r[1].gene, "B");
  EXPECT_NEAR(r[1].mean_neg_log10_p, 2.5, 1e-9);
  EXPECT_EQ(r[1].best_section, 0);
}

TEST(Metrics, SpearmanRanksWithTiesAtTheirMeanRank) {
  const double a[] = {1, 2, 3, 4, 5}, b[] = {10, 20, 30, 40, 1000};  // monotone: 1
  EXPECT_NEAR(spearman(a, b, 5), 1.0, 1e-12);
  const double c[] = {5, 4, 3, 2, 1};
  EXPECT_NEAR(spearman(a, c, 5), -1.0, 1e-12);
  // Ties: ranks of {1, 2, 2, 3} are {0, 1.5, 1.5, 3}; with {1, 2, 3, 4} (ranks 0..3) scipy gives
  // spearmanr([1,2,2,3],[1,2,3,4]) = 0.9486833.
  const double t[] = {1, 2, 2, 3}, u[] = {1, 2, 3, 4};
  EXPECT_NEAR(spearman(t, u, 4), 0.9486833, 1e-6);
  const double k[] = {7, 7, 7, 7};
  EXPECT_TRUE(std::isnan(spearman(k, u, 4)));
}

TEST(Metrics, UncertaintyRankScoreIsOneWhenTheSdOrdersTheErrors) {
  Matrix truth(6, 2, 0.f), pred(6, 2, 0.f), sd(6, 2, 0.f);
  for (int i = 0; i < 6; ++i) {
    pred(i, 0) = float(i) * ((i % 2) ? 1.f : -1.f);  // |error| = i, signs mixed
    sd(i, 0) = 0.1f * float(i * i);                  // same order, other scale
    pred(i, 1) = float(i);
    sd(i, 1) = float(6 - i);                         // the reverse order
  }
  EXPECT_NEAR(uncertainty_rank_score(pred, sd, truth), 0.0, 1e-12);  // (1 + -1) / 2
  Matrix one_gene(6, 1, 0.f), one_sd(6, 1, 0.f), one_truth(6, 1, 0.f);
  for (int i = 0; i < 6; ++i) one_gene(i, 0) = pred(i, 0), one_sd(i, 0) = sd(i, 0);
  EXPECT_NEAR(uncertainty_rank_score(one_gene, one_sd, one_truth), 1.0, 1e-12);
  EXPECT_THROW(uncertainty_rank_score(pred, one_sd, truth), std::invalid_argument);
}
