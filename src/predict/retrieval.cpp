#include "predict/retrieval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "common/thread_pool.h"
#include "predict/key_index.h"

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

Matrix retrieval_predict(const Matrix& queries, const Matrix& keys, const Matrix& key_expression,
                         int k, RetrievalDistance metric, std::vector<RetrievalNeighbours>* neighbours,
                         double eps, double softmax_temperature) {
  if (keys.rows == 0) throw std::invalid_argument("retrieval_predict: no keys");
  const auto index = make_flat_key_index(l2_normalised_rows(keys));
  return retrieval_predict(queries, keys, key_expression, *index, k, metric, neighbours, eps, softmax_temperature);
}

Matrix retrieval_predict(const Matrix& queries, const Matrix& keys, const Matrix& key_expression,
                         const KeyIndex& index, int k, RetrievalDistance metric,
                         std::vector<RetrievalNeighbours>* neighbours, double eps, double softmax_temperature,
                         Matrix* spread) {
  if (queries.cols != keys.cols)
    throw std::invalid_argument("retrieval_predict: query and key embeddings differ in width");
  if (key_expression.rows != keys.rows)
    throw std::invalid_argument("retrieval_predict: " + std::to_string(keys.rows) +
                                " keys but " + std::to_string(key_expression.rows) +
                                " expression rows");
  if (keys.rows == 0) throw std::invalid_argument("retrieval_predict: no keys");
  if (index.size() != keys.rows || index.dim() != keys.cols)
    throw std::invalid_argument("retrieval_predict: the index holds " + std::to_string(index.size()) + " keys x " +
                                std::to_string(index.dim()) + ", not " + std::to_string(keys.rows) + " x " +
                                std::to_string(keys.cols));
  if (k <= 0) throw std::invalid_argument("retrieval_predict: k must be positive");
  const int64_t nq = queries.rows, p = keys.cols, g = key_expression.cols;
  const KeyNeighbours found = index.search(l2_normalised_rows(queries), k);
  Matrix pred(nq, g, 0.f);
  if (neighbours) neighbours->assign(size_t(nq), {});
  if (spread) *spread = Matrix(nq, g, 0.f);
  parallel_for(nq, [&](int64_t q) {
    std::vector<int64_t> idx;
    std::vector<double> sim;
    for (int64_t j = 0; j < found.k; ++j)
      if (const int64_t id = found.ids[size_t(q * found.k + j)]; id >= 0) {
        idx.push_back(id);
        sim.push_back(found.sims[size_t(q * found.k + j)]);
      }
    if (idx.empty()) return;  // an approximate search that probed only empty lists: prediction 0
    std::vector<double> w;
    if (softmax_temperature > 0) {
      w = softmax_weights(sim, softmax_temperature);
    } else {
      std::vector<double> dist(idx.size());
      for (size_t j = 0; j < idx.size(); ++j) dist[j] = row_distance(queries.row(q), keys.row(idx[j]), p, metric);
      w = retrieval_weights(dist, eps);
    }
    std::vector<double> acc(size_t(g), 0.0);
    for (size_t j = 0; j < idx.size(); ++j) {
      const float* e = key_expression.row(idx[j]);
      for (int64_t c = 0; c < g; ++c) acc[c] += w[j] * e[c];
    }
    float* out = pred.row(q);
    for (int64_t c = 0; c < g; ++c) out[c] = float(acc[c]);
    if (spread) {
      std::vector<double> var(size_t(g), 0.0);
      for (size_t j = 0; j < idx.size(); ++j) {
        const float* e = key_expression.row(idx[j]);
        for (int64_t c = 0; c < g; ++c) var[size_t(c)] += w[j] * (e[c] - acc[size_t(c)]) * (e[c] - acc[size_t(c)]);
      }
      float* sd = spread->row(q);
      for (int64_t c = 0; c < g; ++c) sd[c] = float(std::sqrt(var[size_t(c)]));
    }
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
