#include "predict/retrieval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "common/thread_pool.h"

namespace hiscmcl {

RetrievalDistance parse_retrieval_distance(const std::string& name) {
  if (name == "l1" || name == "L1") return RetrievalDistance::l1;
  if (name == "l2" || name == "L2") return RetrievalDistance::l2;
  throw std::invalid_argument("unknown retrieval distance '" + name + "' (expected l1 or l2)");
}

std::string to_string(RetrievalDistance d) { return d == RetrievalDistance::l1 ? "l1" : "l2"; }

std::vector<double> retrieval_weights(const std::vector<double>& distances, double eps) {
  std::vector<double> w(distances.size());
  double sum = 0;
  for (size_t j = 0; j < distances.size(); ++j) {
    double d = std::max(distances[j], eps);
    w[j] = 1.0 / (d * d);
    sum += w[j];
  }
  for (double& v : w) v /= sum;
  return w;
}

std::vector<double> softmax_weights(const std::vector<double>& similarities, double temperature) {
  if (!(temperature > 0)) throw std::invalid_argument("softmax_weights: temperature must be > 0");
  std::vector<double> w(similarities.size());
  if (w.empty()) return w;
  const double top = *std::max_element(similarities.begin(), similarities.end());
  double sum = 0;
  for (size_t j = 0; j < w.size(); ++j) sum += w[j] = std::exp((similarities[j] - top) / temperature);
  for (double& v : w) v /= sum;
  return w;
}

double row_distance(const float* a, const float* b, int64_t p, RetrievalDistance metric) {
  double s = 0;
  if (metric == RetrievalDistance::l1) {
    for (int64_t i = 0; i < p; ++i) s += std::fabs(double(a[i]) - double(b[i]));
    return s;
  }
  for (int64_t i = 0; i < p; ++i) {
    double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  return std::sqrt(s);
}

namespace {
// Rows scaled to unit L2 norm; an all-zero row stays zero (cosine 0 with everything).
Matrix l2_normalised_rows(const Matrix& m) {
  Matrix out = m;
  for (int64_t r = 0; r < m.rows; ++r) {
    float* row = out.row(r);
    double ss = 0;
    for (int64_t c = 0; c < m.cols; ++c) ss += double(row[c]) * row[c];
    if (ss <= 0) continue;
    float inv = float(1.0 / std::sqrt(ss));
    for (int64_t c = 0; c < m.cols; ++c) row[c] *= inv;
  }
  return out;
}
}  // namespace

Matrix retrieval_predict(const Matrix& queries, const Matrix& keys, const Matrix& key_expression,
                         int k, RetrievalDistance metric, std::vector<RetrievalNeighbours>* neighbours,
                         double eps, double softmax_temperature) {
  if (queries.cols != keys.cols)
    throw std::invalid_argument("retrieval_predict: query and key embeddings differ in width");
  if (key_expression.rows != keys.rows)
    throw std::invalid_argument("retrieval_predict: " + std::to_string(keys.rows) +
                                " keys but " + std::to_string(key_expression.rows) +
                                " expression rows");
  if (keys.rows == 0) throw std::invalid_argument("retrieval_predict: no keys");
  if (k <= 0) throw std::invalid_argument("retrieval_predict: k must be positive");
  const int64_t nq = queries.rows, nk = keys.rows, p = keys.cols, g = key_expression.cols;
  const int64_t kk = std::min<int64_t>(k, nk);
  Matrix qn = l2_normalised_rows(queries), kn = l2_normalised_rows(keys);
  Matrix pred(nq, g, 0.f);
  if (neighbours) neighbours->assign(size_t(nq), {});
  parallel_for(nq, [&](int64_t q) {
    std::vector<float> sim(static_cast<size_t>(nk));
    const float* qr = qn.row(q);
    for (int64_t j = 0; j < nk; ++j) {
      const float* kr = kn.row(j);
      float s = 0;
      for (int64_t c = 0; c < p; ++c) s += qr[c] * kr[c];
      sim[j] = s;
    }
    std::vector<int64_t> idx(static_cast<size_t>(nk));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t a, int64_t b) {
      return sim[a] > sim[b] || (sim[a] == sim[b] && a < b);
    });
    idx.resize(static_cast<size_t>(kk));
    std::vector<double> w;
    if (softmax_temperature > 0) {
      std::vector<double> s(static_cast<size_t>(kk));
      for (int64_t j = 0; j < kk; ++j) s[j] = sim[idx[j]];
      w = softmax_weights(s, softmax_temperature);
    } else {
      std::vector<double> dist(static_cast<size_t>(kk));
      for (int64_t j = 0; j < kk; ++j) dist[j] = row_distance(queries.row(q), keys.row(idx[j]), p, metric);
      w = retrieval_weights(dist, eps);
    }
    std::vector<double> acc(size_t(g), 0.0);
    for (int64_t j = 0; j < kk; ++j) {
      const float* e = key_expression.row(idx[j]);
      for (int64_t c = 0; c < g; ++c) acc[c] += w[j] * e[c];
    }
    float* out = pred.row(q);
    for (int64_t c = 0; c < g; ++c) out[c] = float(acc[c]);
    if (neighbours) (*neighbours)[q] = {std::move(idx), std::move(w)};
  });
  return pred;
}

Matrix centre_groups(const Matrix& values, const std::vector<int64_t>& offsets) {
  if (offsets.size() < 2 || offsets.front() != 0 || offsets.back() != values.rows)
    throw std::invalid_argument("centre_groups: offsets must run from 0 to the number of rows");
  for (size_t g = 0; g + 1 < offsets.size(); ++g)
    if (offsets[g] > offsets[g + 1]) throw std::invalid_argument("centre_groups: offsets must not decrease");
  const int64_t n = values.rows, c = values.cols;
  std::vector<double> overall(size_t(c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) overall[j] += values(i, j);
  if (n > 0)
    for (double& v : overall) v /= double(n);
  Matrix out = values;
  for (size_t g = 0; g + 1 < offsets.size(); ++g) {
    const int64_t a = offsets[g], b = offsets[g + 1];
    if (a == b) continue;
    std::vector<double> mean(size_t(c), 0.0);
    for (int64_t i = a; i < b; ++i)
      for (int64_t j = 0; j < c; ++j) mean[j] += values(i, j);
    for (int64_t i = a; i < b; ++i)
      for (int64_t j = 0; j < c; ++j) out(i, j) = float(values(i, j) - mean[j] / double(b - a) + overall[j]);
  }
  return out;
}

}  // namespace hiscmcl
