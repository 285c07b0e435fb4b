// Retrieval weights and prediction (METHOD.md §8.3) with hand-computed answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/thread_pool.h"
#include "predict/key_index.h"
#include "predict/retrieval.h"

using namespace hiscmcl;

TEST(Retrieval, WeightsSpecExample) {  // METHOD.md §8.3
  auto w = retrieval_weights({1, 2, 4});
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NEAR(w[0], 0.761905, 1e-6);
  EXPECT_NEAR(w[1], 0.190476, 1e-6);
  EXPECT_NEAR(w[2], 0.047619, 1e-6);
}

TEST(Retrieval, ZeroDistanceGivesExactMatchAllWeight) {
  auto w = retrieval_weights({0, 1, 2});
  for (double v : w) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(w[0], 1.0, 1e-15);
  EXPECT_NEAR(w[1], 1e-24, 1e-26);  // (1/1) / (1e24 + 1.25)
  auto two = retrieval_weights({0, 0, 3});
  EXPECT_NEAR(two[0], 0.5, 1e-15);
  EXPECT_NEAR(two[1], 0.5, 1e-15);
}

namespace {
Matrix rows(std::initializer_list<std::initializer_list<float>> r) {
  Matrix m(int64_t(r.size()), int64_t(r.begin()->size()));
  int64_t i = 0;
  for (auto& row : r) std::copy(row.begin(), row.end(), m.row(i++));
  return m;
}
}  // namespace

TEST(Retrieval, HandExampleL1AndL2) {
  // q = [3, 0]. Cosine ranks k0 (1), k2 (0.995), k1 (0), k3 (-1): top-2 = {k0, k2}.
  Matrix q = rows({{3, 0}});
  Matrix k = rows({{1, 0}, {0, 1}, {2, 0.2f}, {-1, 0}});
  Matrix e = rows({{10, 0}, {99, 99}, {0, 10}, {-50, -50}});
  std::vector<RetrievalNeighbours> nb;
  // L1: d = 2 and 1.2 -> 1/d^2 = 0.25, 0.694444 -> w = 0.264706, 0.735294.
  Matrix p1 = retrieval_predict(q, k, e, 2, RetrievalDistance::l1, &nb);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].keys, (std::vector<int64_t>{0, 2}));
  EXPECT_NEAR(nb[0].weights[0], 0.25 / (0.25 + 1 / 1.44), 1e-6);
  EXPECT_NEAR(p1(0, 0), 10 * 0.25 / (0.25 + 1 / 1.44), 1e-4);
  EXPECT_NEAR(p1(0, 1), 10 * (1 / 1.44) / (0.25 + 1 / 1.44), 1e-4);
  // L2: d = 2 and sqrt(1.04) -> 1/d^2 = 0.25, 0.961538 -> w = 0.206349, 0.793651.
  Matrix p2 = retrieval_predict(q, k, e, 2, RetrievalDistance::l2);
  EXPECT_NEAR(p2(0, 0), 2.06349, 1e-4);
  EXPECT_NEAR(p2(0, 1), 7.93651, 1e-4);
  // k = 1: the most similar key's expression exactly; k > nk clamps to all keys.
  Matrix top1 = retrieval_predict(q, k, e, 1, RetrievalDistance::l2);
  EXPECT_FLOAT_EQ(top1(0, 0), 10.f);
  retrieval_predict(q, k, e, 99, RetrievalDistance::l1, &nb);
  EXPECT_EQ(nb[0].keys, (std::vector<int64_t>{0, 2, 1, 3}));
}

TEST(Retrieval, ExactKeyMatchReturnsItsExpression) {
  Matrix k = rows({{1, 2}, {2, 1}, {5, 5}});
  Matrix e = rows({{1}, {2}, {3}});
  Matrix p = retrieval_predict(rows({{2, 1}}), k, e, 3, RetrievalDistance::l2);
  EXPECT_NEAR(p(0, 0), 2.0, 1e-6);
}

TEST(Retrieval, MatchesBruteForceAndIsThreadIndependent) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  Matrix q(12, 16), k(80, 16), e(80, 5);
  for (auto* m : {&q, &k, &e})
    for (auto& v : m->data) v = nd(rng);
  const int kk = 9;
  set_num_threads(1);
  Matrix one = retrieval_predict(q, k, e, kk, RetrievalDistance::l1);
  set_num_threads(3);
  Matrix many = retrieval_predict(q, k, e, kk, RetrievalDistance::l1);
  set_num_threads(0);
  EXPECT_EQ(one.data, many.data);
  for (int64_t i = 0; i < q.rows; ++i) {  // full sort by cosine, then the formula directly
    std::vector<std::pair<double, int64_t>> sims;
    for (int64_t j = 0; j < k.rows; ++j) {
      double dot = 0, nq = 0, nk = 0;
      for (int64_t c = 0; c < 16; ++c)
        dot += q(i, c) * k(j, c), nq += q(i, c) * q(i, c), nk += k(j, c) * k(j, c);
      sims.push_back({-dot / std::sqrt(nq * nk), j});
    }
    std::sort(sims.begin(), sims.end());
    double wsum = 0, acc = 0;
    for (int t = 0; t < kk; ++t) {
      int64_t j = sims[t].second;
      double d = 0;
      for (int64_t c = 0; c < 16; ++c) d += std::fabs(q(i, c) - k(j, c));
      wsum += 1 / (d * d);
      acc += e(j, 3) / (d * d);
    }
    EXPECT_NEAR(one(i, 3), acc / wsum, 1e-5);
  }
}

TEST(Retrieval, RejectsBadShapes) {
  EXPECT_THROW(retrieval_predict(Matrix(1, 3), Matrix(4, 2), Matrix(4, 1), 2, RetrievalDistance::l1),
               std::invalid_argument);
  EXPECT_THROW(retrieval_predict(Matrix(1, 2), Matrix(4, 2), Matrix(3, 1), 2, RetrievalDistance::l1),
               std::invalid_argument);
  EXPECT_THROW(retrieval_predict(Matrix(1, 2), Matrix(4, 2), Matrix(4, 1), 0, RetrievalDistance::l1),
               std::invalid_argument);
  EXPECT_EQ(parse_retrieval_distance("L1"), RetrievalDistance::l1);
  EXPECT_THROW(parse_retrieval_distance("cosine"), std::invalid_argument);
}

TEST(Retrieval, CentreGroupsReplacesSectionMeansByTheOverallMean) {
  // Two sections: rows 0-1 (column means 2, 10) and rows 2-4 (column means 5, 1); overall means
  // (1+3+4+5+6)/5 = 3.8 and (9+11+0+1+2)/5 = 4.6.
  Matrix y(5, 2);
  const float v[5][2] = {{1, 9}, {3, 11}, {4, 0}, {5, 1}, {6, 2}};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 2; ++j) y(i, j) = v[i][j];
  Matrix c = centre_groups(y, {0, 2, 5});
  const float want[5][2] = {{2.8f, 3.6f}, {4.8f, 5.6f}, {2.8f, 3.6f}, {3.8f, 4.6f}, {4.8f, 5.6f}};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(c(i, j), want[i][j], 1e-5) << i << "," << j;
  // One group: unchanged.
  Matrix same = centre_groups(y, {0, 5});
  for (size_t i = 0; i < y.data.size(); ++i) EXPECT_NEAR(same.data[i], y.data[i], 1e-5);
  EXPECT_THROW(centre_groups(y, {0, 4}), std::invalid_argument);
  EXPECT_THROW(centre_groups(y, {0, 3, 2, 5}), std::invalid_argument);
}

TEST(Retrieval, SpreadIsTheWeightedSdOfTheNeighboursExpression) {
  // The L2 hand example: w = 0.206349, 0.793651 on expression (10, 0) and (0, 10). Gene 0:
  // y = 2.06349, sd = sqrt(w0 (10 - y)^2 + w1 (0 - y)^2) = 10 sqrt(w0 w1) for two values.
  Matrix q = rows({{3, 0}});
  Matrix k = rows({{1, 0}, {0, 1}, {2, 0.2f}, {-1, 0}});
  Matrix e = rows({{10, 0}, {99, 99}, {0, 10}, {-50, -50}});
  const auto index = make_flat_key_index(l2_normalised_rows(k));
  Matrix spread;
  Matrix p = retrieval_predict(q, k, e, *index, 2, RetrievalDistance::l2, nullptr, 1e-12, 0.0, &spread);
  const double w0 = 0.25 / (0.25 + 1 / 1.04), w1 = 1 - w0;
  EXPECT_NEAR(p(0, 0), 10 * w0, 1e-4);
  ASSERT_EQ(spread.rows, 1);
  ASSERT_EQ(spread.cols, 2);
  EXPECT_NEAR(spread(0, 0), 10 * std::sqrt(w0 * w1), 1e-4);
  EXPECT_NEAR(spread(0, 1), 10 * std::sqrt(w0 * w1), 1e-4);
  // One neighbour, or neighbours that agree: no spread.
  retrieval_predict(q, k, e, *index, 1, RetrievalDistance::l2, nullptr, 1e-12, 0.0, &spread);
  EXPECT_FLOAT_EQ(spread(0, 0), 0.f);
  Matrix same = rows({{4, 4}, {4, 4}, {4, 4}, {4, 4}});
  retrieval_predict(q, k, same, *index, 4, RetrievalDistance::l1, nullptr, 1e-12, 0.0, &spread);
  EXPECT_NEAR(spread(0, 0), 0.f, 1e-6);
}
