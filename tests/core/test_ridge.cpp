// Ridge baseline: closed form, standardisation, intercept, leave-one-group-out alpha choice.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "predict/ridge.h"

using namespace hiscmcl;

namespace {
Matrix random_matrix(int64_t r, int64_t c, unsigned seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  Matrix m(r, c);
  for (auto& v : m.data) v = nd(rng);
  return m;
}
// Y = X W + b (+ noise) with W[f][g] = (f + 1) * (g % 2 ? -1 : 1) * 0.5, b[g] = g.
Matrix linear_targets(const Matrix& X, int64_t g, float noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, noise);
  Matrix Y(X.rows, g);
  for (int64_t i = 0; i < X.rows; ++i)
    for (int64_t t = 0; t < g; ++t) {
      double y = double(t);
      for (int64_t f = 0; f < X.cols; ++f) y += X(i, f) * (f + 1) * (t % 2 ? -0.5 : 0.5);
      Y(i, t) = float(y) + (noise > 0 ? nd(rng) : 0.f);
    }
  return Y;
}
double weight_norm(const RidgeModel& m) {
  double s = 0;
  for (double w : m.weights) s += w * w;
  return std::sqrt(s);
}
}  // namespace

TEST(Ridge, OneFeatureHandComputed) {
  // x = [-1, 1] standardises to itself; yc = [-1, 1]; w = 2 / (2 + alpha); intercept 1.
  Matrix X(2, 1), Y(2, 1);
  X(0, 0) = -1, X(1, 0) = 1, Y(0, 0) = 0, Y(1, 0) = 2;
  RidgeModel m = fit_ridge(X, Y, 2.0);
  EXPECT_NEAR(m.weights[0], 0.5, 1e-12);
  EXPECT_NEAR(m.y_mean[0], 1.0, 1e-12);
  Matrix at(1, 1);
  at(0, 0) = 1;
  EXPECT_NEAR(predict_ridge(m, at)(0, 0), 1.5, 1e-6);
}

TEST(Ridge, RecoversKnownLinearMapAsAlphaGoesToZero) {
  Matrix X = random_matrix(60, 4, 1, 2.f);
  Matrix Y = linear_targets(X, 3, 0.f, 0);
  RidgeModel m = fit_ridge(X, Y, 1e-9);
  // Raw-scale coefficient = standardised weight / feature sd.
  for (int64_t f = 0; f < 4; ++f)
    for (int64_t t = 0; t < 3; ++t)
      EXPECT_NEAR(m.weights[f * 3 + t] / m.x_scale[f], (f + 1) * (t % 2 ? -0.5 : 0.5), 1e-4);
  Matrix p = predict_ridge(m, X);
  for (size_t i = 0; i < p.data.size(); ++i) EXPECT_NEAR(p.data[i], Y.data[i], 1e-3);
}

TEST(Ridge, ShrinkageGrowsWithAlpha) {
  Matrix X = random_matrix(40, 5, 2);
  Matrix Y = linear_targets(X, 2, 0.3f, 3);
  double prev = weight_norm(fit_ridge(X, Y, 0.0));
  for (double a : {0.1, 1.0, 10.0, 100.0, 1e4}) {
    double cur = weight_norm(fit_ridge(X, Y, a));
    EXPECT_LT(cur, prev) << "alpha " << a;
    prev = cur;
  }
  // Huge alpha: every prediction collapses to the training mean (the unpenalised intercept).
  RidgeModel big = fit_ridge(X, Y, 1e12);
  Matrix p = predict_ridge(big, X);
  for (int64_t i = 0; i < X.rows; ++i) EXPECT_NEAR(p(i, 1), big.y_mean[1], 1e-6);
}

TEST(Ridge, StandardisationMakesItScaleAndShiftInvariant) {
  Matrix X = random_matrix(30, 3, 4);
  Matrix Y = linear_targets(X, 2, 0.5f, 5);
  Matrix X2 = X;
  const float scale[] = {100.f, 0.01f, -3.f}, shift[] = {5.f, -7.f, 1000.f};
  for (int64_t i = 0; i < X.rows; ++i)
    for (int64_t f = 0; f < 3; ++f) X2(i, f) = X(i, f) * scale[f] + shift[f];
  Matrix p1 = predict_ridge(fit_ridge(X, Y, 5.0), X);
  Matrix p2 = predict_ridge(fit_ridge(X2, Y, 5.0), X2);
  for (size_t i = 0; i < p1.data.size(); ++i) EXPECT_NEAR(p1.data[i], p2.data[i], 2e-3);
}

TEST(Ridge, ConstantFeatureIsHarmless) {
  Matrix X = random_matrix(20, 2, 6);
  for (int64_t i = 0; i < X.rows; ++i) X(i, 1) = 3.f;
  Matrix Y = linear_targets(X, 1, 0.f, 0);
  RidgeModel m = fit_ridge(X, Y, 1e-6);
  EXPECT_EQ(m.x_scale[1], 1.0);
  EXPECT_NEAR(m.weights[1], 0.0, 1e-9);
  for (float v : predict_ridge(m, X).data) EXPECT_TRUE(std::isfinite(v));
}

TEST(Ridge, CrossValidationPrefersSmallAlphaOnLinearData) {
  Matrix X = random_matrix(90, 3, 8);
  Matrix Y = linear_targets(X, 4, 0.2f, 9);
  std::vector<int> groups(90);
  for (int i = 0; i < 90; ++i) groups[i] = i % 3;
  RidgeCvResult cv = fit_ridge_cv(X, Y, groups, {1e7, 0.01, 1e3});
  ASSERT_EQ(cv.cv_score.size(), 3u);
  EXPECT_EQ(cv.best_alpha, 0.01);
  EXPECT_EQ(cv.model.alpha, 0.01);
  EXPECT_GT(cv.cv_score[1], 0.95);  // nearly noiseless linear data
  EXPECT_GE(cv.cv_score[1], cv.cv_score[2]);
  // The refit uses every row: identical to a direct fit with the chosen alpha.
  EXPECT_EQ(cv.model.weights, fit_ridge(X, Y, 0.01).weights);
  EXPECT_THROW(fit_ridge_cv(X, Y, std::vector<int>(90, 0), {1.0}), std::invalid_argument);
}

TEST(Ridge, RejectsBadInput) {
  EXPECT_THROW(fit_ridge(Matrix(3, 2), Matrix(4, 1), 1.0), std::invalid_argument);
  EXPECT_THROW(fit_ridge(Matrix(3, 2), Matrix(3, 1), -1.0), std::invalid_argument);
  RidgeModel m = fit_ridge(random_matrix(5, 2, 1), random_matrix(5, 1, 2), 1.0);
  EXPECT_THROW(predict_ridge(m, Matrix(2, 3)), std::invalid_argument);
}

