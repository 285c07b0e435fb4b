// Ridge regression baseline: image features -> expression (METHOD.md §8.11).
//   Features are standardised with the training mean/sd (sd 0 -> 1), targets centred (the
//   intercept, not penalised), then (Xs'Xs + alpha I) W = Xs'Yc is solved in closed form in double
//   (Cholesky; SVD fallback when alpha = 0 leaves the system singular).
//   fit_ridge_cv picks alpha by leave-one-group-out (groups = training sections): the score of an
//   alpha is the mean over held-out groups of the mean per-gene PCC (NaN dropped); ties go to the
//   larger alpha. It then refits on all rows with the chosen alpha.
#pragma once
#include <cstdint>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

struct RidgeModel {
  double alpha = 0;
  int64_t n_features = 0, n_targets = 0;
  std::vector<double> x_mean, x_scale;  // [n_features]
  std::vector<double> y_mean;           // [n_targets]
  std::vector<double> weights;          // [n_features x n_targets], row-major, on standardised X
};

// X [n, F], Y [n, G]; throws std::invalid_argument on shape mismatch, no rows, alpha < 0.
RidgeModel fit_ridge(const Matrix& X, const Matrix& Y, double alpha);
Matrix predict_ridge(const RidgeModel& model, const Matrix& X);

struct RidgeCvResult {
  RidgeModel model;                 // refit on all rows with best_alpha
  double best_alpha = 0;
  std::vector<double> alphas, cv_score;  // mean held-out PCC per alpha
};
// groups[i]: the group (section) of row i; needs at least 2 distinct groups.
RidgeCvResult fit_ridge_cv(const Matrix& X, const Matrix& Y, const std::vector<int>& groups,
                           const std::vector<double>& alphas);

}  // namespace hiscmcl
