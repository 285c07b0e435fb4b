#include "predict/ridge.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>

#include "eval/metrics.h"

// LAPACK (Debian's liblapack.so.3: OpenBLAS's where installed). The trailing argument is the
// Fortran length of `uplo`.
extern "C" void dposv_(const char* uplo, const int* n, const int* nrhs, double* a, const int* lda, double* b,
                       const int* ldb, int* info, size_t uplo_len);

namespace hiscmcl {
namespace {

void check_shapes(const Matrix& X, const Matrix& Y) {
  if (X.rows != Y.rows)
    throw std::invalid_argument("ridge: " + std::to_string(X.rows) + " feature rows but " +
                                std::to_string(Y.rows) + " target rows");
  if (X.rows == 0) throw std::invalid_argument("ridge: no training rows");
}

// The standardised, centred system of a subset of rows: A = Xs'Xs, B = Xs'Yc (double).
struct NormalSystem {
  std::vector<double> x_mean, x_scale, y_mean;
  cv::Mat A, B;
};

NormalSystem build_system(const Matrix& X, const Matrix& Y, const std::vector<int64_t>& rows) {
  const int64_t n = int64_t(rows.size()), f = X.cols, g = Y.cols;
  NormalSystem s;
  s.x_mean.assign(size_t(f), 0.0);
  s.x_scale.assign(size_t(f), 0.0);
  s.y_mean.assign(size_t(g), 0.0);
  for (int64_t r : rows) {
    for (int64_t c = 0; c < f; ++c) s.x_mean[c] += X(r, c);
    for (int64_t c = 0; c < g; ++c) s.y_mean[c] += Y(r, c);
  }
  for (auto& v : s.x_mean) v /= double(n);
  for (auto& v : s.y_mean) v /= double(n);
  for (int64_t r : rows)
    for (int64_t c = 0; c < f; ++c) {
      double d = X(r, c) - s.x_mean[c];
      s.x_scale[c] += d * d;
    }
  for (auto& v : s.x_scale) {
    v = std::sqrt(v / double(n));  // population sd, as sklearn's StandardScaler
    if (!(v > 1e-12)) v = 1.0;     // constant feature: leave it centred at zero
  }
  cv::Mat xs(int(n), int(f), CV_64F), yc(int(n), int(g), CV_64F);
  for (int64_t i = 0; i < n; ++i) {
    double* xr = xs.ptr<double>(int(i));
    double* yr = yc.ptr<double>(int(i));
    for (int64_t c = 0; c < f; ++c) xr[c] = (X(rows[i], c) - s.x_mean[c]) / s.x_scale[c];
    for (int64_t c = 0; c < g; ++c) yr[c] = Y(rows[i], c) - s.y_mean[c];
  }
  cv::gemm(xs, xs, 1.0, cv::noArray(), 0.0, s.A, cv::GEMM_1_T);  // xs' xs (OpenBLAS; mulTransposed is not)
  cv::gemm(xs, yc, 1.0, cv::noArray(), 0.0, s.B, cv::GEMM_1_T);
  return s;
}

// Solves a W = b for symmetric positive definite a by Cholesky (a = L L') through LAPACK's dposv
// (OpenBLAS's blocked potrf/potrs): for foundation-sized designs (F = 6,144 columns for 1,536-d
// features) a scalar Cholesky took minutes per alpha, this takes about a second. False if a is
// not SPD.
bool cholesky_solve(const cv::Mat& a_in, const cv::Mat& b, cv::Mat& w) {
  const int f = a_in.rows, g = b.cols;
  cv::Mat l = a_in.clone();     // symmetric: row- and column-major alike
  cv::Mat bt = b.t();           // g x f row-major = f x g column-major, as LAPACK wants it
  int info = 0;
  const char lower = 'L';
  dposv_(&lower, &f, &g, l.ptr<double>(), &f, bt.ptr<double>(), &f, &info, 1);
  if (info != 0) return false;  // > 0: not positive definite
  w = bt.t();
  return true;
}

RidgeModel solve_system(const NormalSystem& s, double alpha) {
  cv::Mat a = s.A.clone();
  a += cv::Mat::eye(a.rows, a.cols, CV_64F) * alpha;
  cv::Mat w;
  if (!cholesky_solve(a, s.B, w)) cv::solve(a, s.B, w, cv::DECOMP_SVD);  // alpha = 0, singular
  RidgeModel m;
  m.alpha = alpha;
  m.n_features = int64_t(s.x_mean.size());
  m.n_targets = int64_t(s.y_mean.size());
  m.x_mean = s.x_mean;
  m.x_scale = s.x_scale;
  m.y_mean = s.y_mean;
  m.weights.assign(reinterpret_cast<const double*>(w.data),
                   reinterpret_cast<const double*>(w.data) + w.total());
  return m;
}

// Raw sums over a set of rows, so a fold's training system is "all minus held-out group":
// one pass over the data instead of one per fold.
struct RawSums {
  double n = 0;
  cv::Mat sx, sy, sxx, sxy;  // 1xF, 1xG, FxF, FxG (double)
};

RawSums raw_sums(const Matrix& X, const Matrix& Y, const std::vector<int64_t>& rows) {
  const int f = int(X.cols), g = int(Y.cols), n = int(rows.size());
  cv::Mat x(n, f, CV_64F), y(n, g, CV_64F);
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < f; ++c) x.at<double>(i, c) = X(rows[i], c);
    for (int c = 0; c < g; ++c) y.at<double>(i, c) = Y(rows[i], c);
  }
  RawSums s;
  s.n = n;
  cv::reduce(x, s.sx, 0, cv::REDUCE_SUM, CV_64F);
  cv::reduce(y, s.sy, 0, cv::REDUCE_SUM, CV_64F);
  cv::gemm(x, x, 1.0, cv::noArray(), 0.0, s.sxx, cv::GEMM_1_T);
  cv::gemm(x, y, 1.0, cv::noArray(), 0.0, s.sxy, cv::GEMM_1_T);
  return s;
}

// The standardised, centred system from raw sums (double: E[x^2] - mean^2 is safe at these scales).
NormalSystem system_from_sums(const RawSums& s) {
  const int f = s.sx.cols, g = s.sy.cols;
  NormalSystem out;
  out.x_mean.resize(f);
  out.x_scale.resize(f);
  out.y_mean.resize(g);
  for (int c = 0; c < f; ++c) {
    double m = s.sx.at<double>(0, c) / s.n;
    double var = s.sxx.at<double>(c, c) / s.n - m * m;
    double sd = var > 0 ? std::sqrt(var) : 0;
    out.x_mean[c] = m;
    out.x_scale[c] = sd > 1e-12 ? sd : 1.0;
  }
  for (int c = 0; c < g; ++c) out.y_mean[c] = s.sy.at<double>(0, c) / s.n;
  out.A.create(f, f, CV_64F);
  out.B.create(f, g, CV_64F);
  for (int i = 0; i < f; ++i) {
    for (int j = 0; j < f; ++j)
      out.A.at<double>(i, j) = (s.sxx.at<double>(i, j) - s.n * out.x_mean[i] * out.x_mean[j]) /
                               (out.x_scale[i] * out.x_scale[j]);
    for (int t = 0; t < g; ++t)
      out.B.at<double>(i, t) =
          (s.sxy.at<double>(i, t) - s.n * out.x_mean[i] * out.y_mean[t]) / out.x_scale[i];
  }
  return out;
}

Matrix select_rows(const Matrix& m, const std::vector<int64_t>& rows) {
  Matrix out(int64_t(rows.size()), m.cols);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(m.row(rows[i]), m.row(rows[i]) + m.cols, out.row(int64_t(i)));
  return out;
}

double mean_gene_pcc(const Matrix& pred, const Matrix& truth) {
  std::vector<double> pcc(static_cast<size_t>(truth.cols));
  std::vector<double> a(static_cast<size_t>(truth.rows)), b(static_cast<size_t>(truth.rows));
  for (int64_t g = 0; g < truth.cols; ++g) {
    for (int64_t i = 0; i < truth.rows; ++i) a[i] = pred(i, g), b[i] = truth(i, g);
    pcc[g] = pearson(a.data(), b.data(), truth.rows);
  }
  return nan_mean(pcc);
}

}  // namespace

RidgeModel fit_ridge(const Matrix& X, const Matrix& Y, double alpha) {
  check_shapes(X, Y);
  if (!(alpha >= 0)) throw std::invalid_argument("ridge: alpha must be >= 0");
  std::vector<int64_t> rows(static_cast<size_t>(X.rows));
  for (int64_t i = 0; i < X.rows; ++i) rows[i] = i;
  return solve_system(build_system(X, Y, rows), alpha);
}

Matrix predict_ridge(const RidgeModel& m, const Matrix& X) {
  if (X.cols != m.n_features)
    throw std::invalid_argument("predict_ridge: model has " + std::to_string(m.n_features) +
                                " features, input has " + std::to_string(X.cols));
  const int n = int(X.rows), f = int(m.n_features), g = int(m.n_targets);
  cv::Mat xs(n, f, CV_64F), y;
  for (int i = 0; i < n; ++i) {
    double* xr = xs.ptr<double>(i);
    for (int c = 0; c < f; ++c) xr[c] = (X(i, c) - m.x_mean[c]) / m.x_scale[c];
  }
  // cv::gemm goes to OpenBLAS here: far faster than a hand loop for thousands of spots.
  const cv::Mat w(f, g, CV_64F, const_cast<double*>(m.weights.data()));
  cv::gemm(xs, w, 1.0, cv::noArray(), 0.0, y);
  Matrix out(n, g);
  for (int i = 0; i < n; ++i) {
    const double* yr = y.ptr<double>(i);
    for (int t = 0; t < g; ++t) out(i, t) = float(yr[t] + m.y_mean[t]);
  }
  return out;
}

RidgeCvResult fit_ridge_cv(const Matrix& X, const Matrix& Y, const std::vector<int>& groups,
                           const std::vector<double>& alphas) {
  check_shapes(X, Y);
  if (int64_t(groups.size()) != X.rows)
    throw std::invalid_argument("fit_ridge_cv: one group per row is needed");
  if (alphas.empty()) throw std::invalid_argument("fit_ridge_cv: no alphas to try");
  for (double a : alphas)
    if (!(a >= 0)) throw std::invalid_argument("fit_ridge_cv: alpha must be >= 0");
  std::map<int, std::vector<int64_t>> rows_of;
  for (int64_t i = 0; i < X.rows; ++i) rows_of[groups[i]].push_back(i);
  if (rows_of.size() < 2)
    throw std::invalid_argument("fit_ridge_cv: leave-one-group-out needs at least 2 groups");

  RidgeCvResult res;
  res.alphas = alphas;
  res.cv_score.assign(alphas.size(), 0.0);
  std::vector<int> n_scored(alphas.size(), 0);
  std::vector<int64_t> all_rows(static_cast<size_t>(X.rows));
  for (int64_t i = 0; i < X.rows; ++i) all_rows[i] = i;
  const RawSums total = raw_sums(X, Y, all_rows);
  for (auto& [group, held_out] : rows_of) {
    // One normal system per fold (all rows minus this group); each alpha only changes the diagonal.
    RawSums train = raw_sums(X, Y, held_out);
    train.n = total.n - train.n;
    train.sx = total.sx - train.sx;
    train.sy = total.sy - train.sy;
    train.sxx = total.sxx - train.sxx;
    train.sxy = total.sxy - train.sxy;
    NormalSystem s = system_from_sums(train);
    Matrix xh = select_rows(X, held_out), yh = select_rows(Y, held_out);
    for (size_t a = 0; a < alphas.size(); ++a) {
      double score = mean_gene_pcc(predict_ridge(solve_system(s, alphas[a]), xh), yh);
      if (std::isnan(score)) continue;  // e.g. a one-spot group
      res.cv_score[a] += score;
      ++n_scored[a];
    }
  }
  size_t best = 0;
  for (size_t a = 0; a < alphas.size(); ++a) {
    res.cv_score[a] = n_scored[a] ? res.cv_score[a] / n_scored[a]
                                  : std::numeric_limits<double>::quiet_NaN();
    double sb = res.cv_score[best], sa = res.cv_score[a];
    if (std::isnan(sb) || (!std::isnan(sa) && (sa > sb || (sa == sb && alphas[a] > alphas[best]))))
      best = a;
  }
  res.best_alpha = alphas[best];
  res.model = fit_ridge(X, Y, res.best_alpha);
  return res;
}

}  // namespace hiscmcl
