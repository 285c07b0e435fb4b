// Clustering scores (METHOD.md §8.10): PCA, deterministic k-means++, ARI and NMI with known values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "eval/clustering.h"

using namespace hiscmcl;

TEST(Clustering, SklearnDocumentedExamples) {
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 4.0 / 7.0, 1e-12);  // 0.5714...
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1}, {0, 0, 1, 2}), 0.8, 1e-12);
  EXPECT_NEAR(adjusted_rand_index({0, 0, 1, 1}, {1, 1, 0, 0}), 1.0, 1e-12);  // relabelled
  EXPECT_NEAR(normalized_mutual_info({0, 0, 1, 1}, {1, 1, 0, 0}), 1.0, 1e-12);
  EXPECT_NEAR(adjusted_rand_index({0, 0, 0, 0}, {0, 1, 2, 3}), 0.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_info({0, 0, 0, 0}, {0, 1, 2, 3}), 0.0, 1e-12);
  EXPECT_EQ(adjusted_rand_index({3, 3, 3}, {5, 5, 5}), 1.0);  // sklearn's trivial-partition rule
  EXPECT_EQ(normalized_mutual_info({3, 3, 3}, {5, 5, 5}), 1.0);
}

TEST(Clustering, HandComputedContingencyTable) {
  // a = [0 0 0 1 1 1], b = [0 0 1 1 2 2]: table [[2,1,0],[0,1,2]].
  // ARI: index 2, expected 6*3/15 = 1.2, max (6+3)/2 = 4.5 -> 0.8 / 3.3.
  std::vector<int> a = {0, 0, 0, 1, 1, 1}, b = {0, 0, 1, 1, 2, 2};
  EXPECT_NEAR(adjusted_rand_index(a, b), 0.8 / 3.3, 1e-12);
  // NMI: MI = (2/3) ln 2, H(a) = ln 2, H(b) = ln 3 -> (4/3) ln 2 / ln 6.
  EXPECT_NEAR(normalized_mutual_info(a, b), 4.0 / 3.0 * std::log(2.0) / std::log(6.0), 1e-12);
  EXPECT_NEAR(normalized_mutual_info(b, a), normalized_mutual_info(a, b), 1e-15);
  EXPECT_THROW(adjusted_rand_index({0, 1}, {0}), std::invalid_argument);
}

TEST(Clustering, KMeansOneDimensionHandComputed) {
  Matrix x(4, 1);
  x(0, 0) = 0, x(1, 0) = 1, x(2, 0) = 10, x(3, 0) = 11;
  KMeansResult r = kmeans(x, 2);
  EXPECT_NEAR(r.inertia, 1.0, 1e-9);  // four points each 0.5 from a centre
  EXPECT_EQ(r.labels[0], r.labels[1]);
  EXPECT_EQ(r.labels[2], r.labels[3]);
  EXPECT_NE(r.labels[0], r.labels[2]);
  std::vector<float> c = {r.centers(0, 0), r.centers(1, 0)};
  std::sort(c.begin(), c.end());
  EXPECT_FLOAT_EQ(c[0], 0.5f);
  EXPECT_FLOAT_EQ(c[1], 10.5f);
}

namespace {
// Three tight blobs in 12 dimensions, 30 points each, interleaved order.
Matrix blobs(std::vector<int>& truth, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.3f);
  Matrix x(90, 12);
  truth.resize(90);
  for (int i = 0; i < 90; ++i) {
    truth[i] = i % 3;
    for (int j = 0; j < 12; ++j) x(i, j) = nd(rng) + (j % 3 == truth[i] ? 5.f : 0.f);
  }
  return x;
}
}  // namespace

TEST(Clustering, KMeansRecoversBlobsDeterministically) {
  std::vector<int> truth;
  Matrix x = blobs(truth, 11);
  KMeansResult a = kmeans(x, 3, 10, 0), b = kmeans(x, 3, 10, 0);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.inertia, b.inertia);
  EXPECT_NEAR(adjusted_rand_index(a.labels, truth), 1.0, 1e-12);
  EXPECT_THROW(kmeans(x, 0), std::invalid_argument);
  EXPECT_THROW(kmeans(x, 91), std::invalid_argument);
}

TEST(Clustering, PcaOfPointsOnALine) {
  // x_i = t_i * [1, 2, 2] + [4, 4, 4]: one component with scores +-3 (t_i - mean t), the rest 0.
  const float t[] = {-2, 0, 1, 5};
  Matrix x(4, 3);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) x(i, j) = t[i] * (j == 0 ? 1.f : 2.f) + 4.f;
  Matrix s = pca_project(x, 9);
  ASSERT_EQ(s.cols, 9);
  const double mean_t = 1.0, sign = s(3, 0) > 0 ? 1 : -1;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(s(i, 0), sign * 3 * (t[i] - mean_t), 1e-4);
    for (int j = 1; j < 9; ++j) EXPECT_NEAR(s(i, j), 0.0, 1e-4);
  }
}

TEST(Clustering, PcaLargeMatrixKeepsDistancesOfLowRankData) {
  // Rank-5 data, 100 x 80 (the randomised path): 9 components hold all the variance, so the
  // distance between any two rows is the same before and after projection; the component
  // variances come out in descending order.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  Matrix a(100, 5), b(5, 80), x(100, 80, 0.f);
  for (auto& v : a.data) v = nd(rng);
  for (auto& v : b.data) v = nd(rng);
  for (int i = 0; i < 100; ++i)
    for (int k = 0; k < 5; ++k)
      for (int j = 0; j < 80; ++j) x(i, j) += a(i, k) * b(k, j) * float(5 - k);
  Matrix s = pca_project(x, 9);
  for (int i = 0; i < 100; i += 7)
    for (int j = i + 1; j < 100; j += 11) {
      double dx = 0, ds = 0;
      for (int c = 0; c < 80; ++c) dx += (x(i, c) - x(j, c)) * (x(i, c) - x(j, c));
      for (int c = 0; c < 9; ++c) ds += (s(i, c) - s(j, c)) * (s(i, c) - s(j, c));
      EXPECT_NEAR(std::sqrt(ds), std::sqrt(dx), 1e-3 * std::sqrt(dx) + 1e-4);
    }
  std::vector<double> var(9, 0.0);
  for (int c = 0; c < 9; ++c)
    for (int i = 0; i < 100; ++i) var[c] += s(i, c) * s(i, c);
  for (int c = 1; c < 5; ++c) EXPECT_GT(var[c - 1], var[c]);
  for (int c = 5; c < 9; ++c) EXPECT_LT(var[c], 1e-6 * var[0]);
}

TEST(Clustering, ClusterAndScoreDropsUndetermined) {
  std::vector<int> truth;
  Matrix x = blobs(truth, 12);
  const char* names[] = {"tumour", "stroma", "immune"};
  std::vector<std::string> labels;
  for (int i = 0; i < 90; ++i) labels.push_back(i % 10 == 9 ? "undetermined" : names[truth[i]]);
  labels[4] = "";  // a spot with no label row counts as undetermined (METHOD.md §9.25)
  ClusterScore s = cluster_and_score(x, labels);
  EXPECT_EQ(s.n_spots, 90 - 9 - 1);
  EXPECT_EQ(s.k, 3);
  EXPECT_NEAR(s.ari, 1.0, 1e-12);
  EXPECT_NEAR(s.nmi, 1.0, 1e-12);
  EncodedLabels e = encode_region_labels({"b", "undetermined", "a", "b"});
  EXPECT_EQ(e.kept_rows, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(e.codes, (std::vector<int>{0, 1, 0}));
  EXPECT_THROW(cluster_and_score(x, {"a"}), std::invalid_argument);
}

// Three blobs of 30, 20 and 10 spots in 5 genes: the regions recover them, numbered by size.
TEST(Clustering, RegionsRecoverBlobsNumberedBySize) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> noise(0.f, 0.1f);
  const int sizes[3] = {10, 30, 20};  // drawn in this order: the middle blob is the largest
  const float centre[3][5] = {{5, 0, 0, 0, 1}, {0, 5, 0, 1, 0}, {0, 0, 5, 0, 0}};
  Matrix x(60, 5);
  std::vector<int> truth;
  int64_t row = 0;
  for (int b = 0; b < 3; ++b)
    for (int i = 0; i < sizes[b]; ++i, ++row) {
      for (int g = 0; g < 5; ++g) x(row, g) = centre[b][g] + noise(rng);
      truth.push_back(b);
    }
  std::vector<int> r = cluster_regions(x, 3);
  ASSERT_EQ(r.size(), 60u);
  EXPECT_NEAR(adjusted_rand_index(r, truth), 1.0, 1e-12);
  EXPECT_EQ(r[10], 0);  // the 30-spot blob
  EXPECT_EQ(r[40], 1);  // the 20-spot blob
  EXPECT_EQ(r[0], 2);   // the 10-spot blob
  EXPECT_EQ(cluster_regions(x, 3), r);  // fixed seed: identical
  EXPECT_EQ(cluster_regions(x, 100).size(), 60u);  // k capped by the spots
  EXPECT_TRUE(cluster_regions(Matrix(0, 5), 3).empty());
  EXPECT_THROW(cluster_regions(x, 0), std::invalid_argument);
}

TEST(Clustering, AlignLabelsRenumbersByLargestOverlap) {
  // labels 7 overlaps reference 1 on 3 spots, 9 overlaps 0 on 2; 8 is left over.
  std::vector<int> ref = {1, 1, 1, 0, 0, 0, 2};
  std::vector<int> lab = {7, 7, 7, 9, 9, 8, 8};
  std::vector<int> a = align_labels(lab, ref);
  EXPECT_EQ(a, (std::vector<int>{1, 1, 1, 0, 0, 2, 2}));  // 8's best free match is 2 (one spot)
  EXPECT_NEAR(adjusted_rand_index(a, lab), 1.0, 1e-12);   // only renumbered
  // 8 overlaps only 0, which 7 took: it takes the free 2 rather than a new number
  EXPECT_EQ(align_labels({7, 7, 8, 9, 9}, {0, 0, 0, 1, 2}), (std::vector<int>{0, 0, 2, 1, 1}));
  // more values than the reference has: numbers past the reference's
  EXPECT_EQ(align_labels({0, 1, 2}, {5, 5, 5}), (std::vector<int>{5, 6, 7}));
  EXPECT_THROW(align_labels({0, 1}, {0}), std::invalid_argument);
}
