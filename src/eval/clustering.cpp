#include "eval/clustering.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <random>
#include <set>
#include <stdexcept>

namespace hiscmcl {
namespace {

// Uniform double in [0, 1) from a 64-bit engine, identical on every standard library.
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

double sq_dist(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t i = 0; i < d; ++i) {
    double t = double(a[i]) - double(b[i]);
    s += t * t;
  }
  return s;
}

// Greedy k-means++ seeding (sklearn's _kmeans_plusplus).
Matrix kmeans_plusplus(const Matrix& X, int k, std::mt19937_64& rng) {
  const int64_t n = X.rows, d = X.cols;
  Matrix centers(k, d);
  int64_t first = std::min<int64_t>(int64_t(uniform01(rng) * double(n)), n - 1);
  std::copy(X.row(first), X.row(first) + d, centers.row(0));
  std::vector<double> closest(static_cast<size_t>(n));
  double pot = 0;
  for (int64_t i = 0; i < n; ++i) pot += closest[i] = sq_dist(X.row(i), centers.row(0), d);
  const int trials = 2 + int(std::log(double(k)));
  std::vector<double> cumsum(static_cast<size_t>(n)), cand_dist(static_cast<size_t>(n));
  for (int c = 1; c < k; ++c) {
    double run = 0;
    for (int64_t i = 0; i < n; ++i) cumsum[i] = run += closest[i];
    int64_t best_id = -1;
    double best_pot = std::numeric_limits<double>::infinity();
    std::vector<double> best_dist;
    for (int t = 0; t < trials; ++t) {
      double r = uniform01(rng) * pot;
      int64_t id = std::lower_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin();
      id = std::min(id, n - 1);
      double new_pot = 0;
      for (int64_t i = 0; i < n; ++i)
        new_pot += cand_dist[i] = std::min(closest[i], sq_dist(X.row(i), X.row(id), d));
      if (new_pot < best_pot) best_pot = new_pot, best_id = id, best_dist = cand_dist;
    }
    std::copy(X.row(best_id), X.row(best_id) + d, centers.row(c));
    closest = best_dist;
    pot = best_pot;
  }
  return centers;
}

KMeansResult lloyd(const Matrix& X, Matrix centers, int max_iter, double tol_abs) {
  const int64_t n = X.rows, d = X.cols, k = centers.rows;
  KMeansResult r;
  r.labels.assign(size_t(n), 0);
  std::vector<double> dist(static_cast<size_t>(n));
  auto assign = [&] {
    double inertia = 0;
    for (int64_t i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      int bl = 0;
      for (int64_t c = 0; c < k; ++c) {
        double s = sq_dist(X.row(i), centers.row(c), d);
        if (s < best) best = s, bl = int(c);
      }
      r.labels[i] = bl;
      dist[i] = best;
      inertia += best;
    }
    return inertia;
  };
  for (int it = 0; it < max_iter; ++it) {
    assign();
    std::vector<double> sums(size_t(k * d), 0.0);
    std::vector<int64_t> count(size_t(k), 0);
    for (int64_t i = 0; i < n; ++i) {
      ++count[r.labels[i]];
      for (int64_t j = 0; j < d; ++j) sums[r.labels[i] * d + j] += X(i, j);
    }
    Matrix next(k, d);
    for (int64_t c = 0; c < k; ++c) {
      if (count[c] == 0) {  // empty cluster: move it to the point farthest from its centre
        int64_t far = std::max_element(dist.begin(), dist.end()) - dist.begin();
        std::copy(X.row(far), X.row(far) + d, next.row(c));
        dist[far] = 0;
        continue;
      }
      for (int64_t j = 0; j < d; ++j) next(c, j) = float(sums[c * d + j] / double(count[c]));
    }
    double shift = 0;
    for (int64_t c = 0; c < k; ++c) shift += sq_dist(next.row(c), centers.row(c), d);
    centers = std::move(next);
    if (shift <= tol_abs) break;
  }
  r.inertia = assign();
  r.centers = std::move(centers);
  return r;
}

std::map<std::pair<int, int>, int64_t> contingency(const std::vector<int>& a,
                                                   const std::vector<int>& b,
                                                   std::map<int, int64_t>& ca,
                                                   std::map<int, int64_t>& cb) {
  if (a.size() != b.size())
    throw std::invalid_argument("partition comparison: the two labelings differ in length");
  std::map<std::pair<int, int>, int64_t> t;
  for (size_t i = 0; i < a.size(); ++i) ++t[{a[i], b[i]}], ++ca[a[i]], ++cb[b[i]];
  return t;
}

}  // namespace

namespace {
// Orthonormalises the columns of m in place (modified Gram-Schmidt, twice for stability).
void orthonormalise_columns(cv::Mat& m) {
  for (int pass = 0; pass < 2; ++pass)
    for (int j = 0; j < m.cols; ++j) {
      cv::Mat cj = m.col(j);
      for (int i = 0; i < j; ++i) cj -= m.col(i) * m.col(i).dot(cj);
      double nrm = cv::norm(cj);
      if (nrm > 1e-300) cj /= nrm;
    }
}
}  // namespace

Matrix pca_project(const Matrix& X, int n_components) {
  const int64_t n = X.rows, d = X.cols;
  if (n == 0 || d == 0) throw std::invalid_argument("pca_project: empty matrix");
  const int m = int(std::min<int64_t>({int64_t(n_components), n, d}));
  cv::Mat c(int(n), int(d), CV_64F);
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += X(i, j);
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) c.at<double>(int(i), int(j)) = X(i, j) - mean;
  }
  cv::Mat u, w;  // left singular vectors and singular values, descending
  const int small = int(std::min(n, d));
  if (small <= 64) {
    cv::Mat vt;
    cv::SVD::compute(c, w, u, vt);
  } else {
    // Randomised subspace iteration (Halko et al.): a full Jacobi SVD of a 600 x 785 section
    // takes tens of seconds; the top 9 components converge in a few power steps.
    const int l = std::min(small, m + 16);
    std::mt19937_64 rng(0);
    cv::Mat omega(int(d), l, CV_64F);
    for (int i = 0; i < omega.rows; ++i)
      for (int j = 0; j < l; ++j) {  // Box-Muller: same numbers on every standard library
        double u1 = std::max(uniform01(rng), 1e-300), u2 = uniform01(rng);
        omega.at<double>(i, j) = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      }
    cv::Mat q = c * omega, z;
    orthonormalise_columns(q);
    for (int it = 0; it < 8; ++it) {
      cv::gemm(c, q, 1.0, cv::noArray(), 0.0, z, cv::GEMM_1_T);
      orthonormalise_columns(z);
      q = c * z;
      orthonormalise_columns(q);
    }
    cv::Mat b, ub, vt;
    cv::gemm(q, c, 1.0, cv::noArray(), 0.0, b, cv::GEMM_1_T);  // l x d
    cv::SVD::compute(b, w, ub, vt);
    u = q * ub;
  }
  Matrix out(n, n_components, 0.f);  // extra components (rank-deficient) stay 0
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) out(i, j) = float(u.at<double>(int(i), j) * w.at<double>(j));
  return out;
}

KMeansResult kmeans(const Matrix& X, int k, int n_init, uint64_t seed, int max_iter, double tol) {
  if (k <= 0 || k > X.rows)
    throw std::invalid_argument("kmeans: k = " + std::to_string(k) + " with " +
                                std::to_string(X.rows) + " points");
  // sklearn scales tol by the mean per-feature variance of the data.
  double mean_var = 0;
  for (int64_t j = 0; j < X.cols; ++j) {
    double m = 0, ss = 0;
    for (int64_t i = 0; i < X.rows; ++i) m += X(i, j);
    m /= double(X.rows);
    for (int64_t i = 0; i < X.rows; ++i) ss += (X(i, j) - m) * (X(i, j) - m);
    mean_var += ss / double(X.rows);
  }
  mean_var /= double(std::max<int64_t>(X.cols, 1));
  std::mt19937_64 rng(seed);
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int run = 0; run < std::max(n_init, 1); ++run) {
    KMeansResult r = lloyd(X, kmeans_plusplus(X, k, rng), max_iter, tol * mean_var);
    if (r.inertia < best.inertia) best = std::move(r);
  }
  return best;
}

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  std::map<int, int64_t> ca, cb;
  auto t = contingency(a, b, ca, cb);
  const double n = double(a.size());
  // Pair confusion matrix (sklearn.metrics.cluster.pair_confusion_matrix).
  double sum_sq = 0, sa = 0, sb = 0;
  for (auto& [_, v] : t) sum_sq += double(v) * double(v);
  for (auto& [_, v] : ca) sa += double(v) * double(v);
  for (auto& [_, v] : cb) sb += double(v) * double(v);
  double tp = sum_sq - n, fp = sb - sum_sq, fn = sa - sum_sq, tn = n * n - fp - fn - sum_sq;
  if (fn == 0 && fp == 0) return 1.0;
  return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
}

double normalized_mutual_info(const std::vector<int>& a, const std::vector<int>& b) {
  std::map<int, int64_t> ca, cb;
  auto t = contingency(a, b, ca, cb);
  if (ca.size() == cb.size() && ca.size() <= 1) return 1.0;
  const double n = double(a.size());
  auto entropy = [n](const std::map<int, int64_t>& c) {
    double h = 0;
    for (auto& [_, v] : c) h -= double(v) / n * std::log(double(v) / n);
    return h;
  };
  double mi = 0;
  for (auto& [ij, v] : t)
    mi += double(v) / n * std::log(n * double(v) / (double(ca[ij.first]) * double(cb[ij.second])));
  if (mi <= 0) return 0.0;
  return mi / ((entropy(ca) + entropy(cb)) / 2);
}

EncodedLabels encode_region_labels(const std::vector<std::string>& labels) {
  EncodedLabels e;
  std::map<std::string, int> code_of;
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& l = labels[i];
    if (l.empty() || l == "undetermined") continue;
    auto it = code_of.find(l);
    if (it == code_of.end()) {
      it = code_of.emplace(l, int(e.names.size())).first;
      e.names.push_back(l);
    }
    e.kept_rows.push_back(int64_t(i));
    e.codes.push_back(it->second);
  }
  return e;
}

ClusterScore cluster_and_score(const Matrix& expression, const std::vector<std::string>& labels,
                               int n_components, uint64_t seed, int n_init) {
  if (int64_t(labels.size()) != expression.rows)
    throw std::invalid_argument("cluster_and_score: " + std::to_string(labels.size()) +
                                " labels for " + std::to_string(expression.rows) + " spots");
  EncodedLabels e = encode_region_labels(labels);
  ClusterScore s;
  s.n_spots = int64_t(e.kept_rows.size());
  s.k = int(e.names.size());
  if (s.k == 0) throw std::invalid_argument("cluster_and_score: no labelled spots");
  Matrix kept(s.n_spots, expression.cols);
  for (int64_t i = 0; i < s.n_spots; ++i)
    std::copy(expression.row(e.kept_rows[i]), expression.row(e.kept_rows[i]) + expression.cols,
              kept.row(i));
  KMeansResult km = kmeans(pca_project(kept, n_components), s.k, n_init, seed);
  s.ari = adjusted_rand_index(km.labels, e.codes);
  s.nmi = normalized_mutual_info(km.labels, e.codes);
  return s;
}

std::vector<int> cluster_regions(const Matrix& expression, int k, int n_components, uint64_t seed,
                                 int n_init) {
  if (k < 1) throw std::invalid_argument("cluster_regions: k must be >= 1");
  if (expression.rows == 0) return {};
  const int kk = int(std::min<int64_t>(k, expression.rows));
  KMeansResult km = kmeans(pca_project(expression, n_components), kk, n_init, seed);
  std::vector<int64_t> size(size_t(kk), 0), first(size_t(kk), expression.rows);
  for (size_t i = 0; i < km.labels.size(); ++i) {
    const size_t c = size_t(km.labels[i]);
    ++size[c];
    first[c] = std::min(first[c], int64_t(i));
  }
  std::vector<int> order(static_cast<size_t>(kk));
  for (int c = 0; c < kk; ++c) order[size_t(c)] = c;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return size[size_t(a)] != size[size_t(b)] ? size[size_t(a)] > size[size_t(b)] : first[size_t(a)] < first[size_t(b)];
  });
  std::vector<int> rank(static_cast<size_t>(kk));
  for (int r = 0; r < kk; ++r) rank[size_t(order[size_t(r)])] = r;
  std::vector<int> out(km.labels.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = rank[size_t(km.labels[i])];
  return out;
}

std::vector<int> align_labels(const std::vector<int>& labels, const std::vector<int>& reference) {
  std::map<int, int64_t> ca, cb;
  auto table = contingency(labels, reference, ca, cb);
  std::vector<std::pair<std::pair<int, int>, int64_t>> cells(table.begin(), table.end());
  // largest overlap first; ties by the values themselves, so the result is deterministic
  std::stable_sort(cells.begin(), cells.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  std::map<int, int> to;
  std::set<int> taken;
  for (const auto& [pair, n] : cells)
    if (!to.count(pair.first) && !taken.count(pair.second)) to[pair.first] = pair.second, taken.insert(pair.second);
  // values whose overlaps all went to others take the reference's free values, then new ones
  auto free_value = cb.begin();
  int next = cb.empty() ? 0 : cb.rbegin()->first + 1;
  for (const auto& [value, n] : ca) {
    if (to.count(value)) continue;
    while (free_value != cb.end() && taken.count(free_value->first)) ++free_value;
    to[value] = free_value != cb.end() ? free_value->first : next++;
    if (free_value != cb.end()) taken.insert(free_value->first);
  }
  std::vector<int> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) out[i] = to[labels[i]];
  return out;
}

std::vector<std::string> region_names(const std::vector<int>& regions, const std::vector<int>& more) {
  int n = 0;
  for (const auto* part : {&regions, &more})
    for (int r : *part) n = std::max(n, r + 1);
  std::vector<std::string> names;
  for (int r = 1; r <= n; ++r) names.push_back(std::to_string(r));
  return names;
}

}  // namespace hiscmcl
