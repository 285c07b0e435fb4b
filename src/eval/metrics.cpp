#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace hiscmcl {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
double pearson_impl(const T* a, const T* b, int64_t n) {
  if (n < 2) return kNaN;
  // Exact constancy check: a mean computed in floating point need not equal the constant.
  bool a_const = true, b_const = true;
  for (int64_t i = 1; i < n && (a_const || b_const); ++i) {
    a_const = a_const && a[i] == a[0];
    b_const = b_const && b[i] == b[0];
  }
  if (a_const || b_const) return kNaN;
  double ma = 0, mb = 0;
  for (int64_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= double(n), mb /= double(n);
  double sab = 0, saa = 0, sbb = 0;
  for (int64_t i = 0; i < n; ++i) {
    double da = a[i] - ma, db = b[i] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  if (saa <= 0 || sbb <= 0) return kNaN;
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

// Continued fraction for I_x(a, b) (modified Lentz), valid for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps) break;
  }
  return h;
}
}  // namespace

double pearson(const double* a, const double* b, int64_t n) { return pearson_impl(a, b, n); }
double pearson(const float* a, const float* b, int64_t n) { return pearson_impl(a, b, n); }

namespace {
std::vector<double> mean_ranks(const double* v, int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> rank(static_cast<size_t>(n));
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && v[order[size_t(j + 1)]] == v[order[size_t(i)]]) ++j;
    for (int64_t t = i; t <= j; ++t) rank[size_t(order[size_t(t)])] = 0.5 * double(i + j);
    i = j + 1;
  }
  return rank;
}
}  // namespace

double spearman(const double* a, const double* b, int64_t n) {
  if (n < 2) return kNaN;
  const auto ra = mean_ranks(a, n), rb = mean_ranks(b, n);
  return pearson(ra.data(), rb.data(), n);
}

double uncertainty_rank_score(const Matrix& pred, const Matrix& sd, const Matrix& truth) {
  if (pred.rows != truth.rows || pred.cols != truth.cols || sd.rows != pred.rows || sd.cols != pred.cols)
    throw std::invalid_argument("uncertainty_rank_score: pred, sd and truth differ in shape");
  double sum = 0;
  int64_t used = 0;
  std::vector<double> s(size_t(pred.rows)), e(size_t(pred.rows));
  for (int64_t g = 0; g < pred.cols; ++g) {
    for (int64_t i = 0; i < pred.rows; ++i) {
      s[size_t(i)] = sd(i, g);
      e[size_t(i)] = std::fabs(double(pred(i, g)) - double(truth(i, g)));
    }
    const double r = spearman(s.data(), e.data(), pred.rows);
    if (std::isfinite(r)) sum += r, ++used;
  }
  return used ? sum / double(used) : kNaN;
}

double incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return kNaN;
  if (x == 0 || x == 1) return x;
  double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                     b * std::log1p(-x);
  double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double pearson_p_value(double r, int64_t n) {
  if (std::isnan(r) || n < 3) return kNaN;
  if (std::fabs(r) >= 1) return 0.0;
  // t = r sqrt(df / (1 - r^2)); two-sided p = I_{df/(df+t^2)}(df/2, 1/2) = I_{1-r^2}(df/2, 1/2).
  double df = double(n - 2);
  return incomplete_beta(df / 2, 0.5, 1 - r * r);
}

std::vector<int64_t> top_indices(const std::vector<double>& values, int top) {
  std::vector<int64_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  size_t k = std::min<size_t>(size_t(std::max(top, 0)), idx.size());
  // NaN ranks last so it never displaces a real value.
  auto key = [&](int64_t i) {
    return std::isnan(values[i]) ? -std::numeric_limits<double>::infinity() : values[i];
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t x, int64_t y) {
    double kx = key(x), ky = key(y);
    return kx > ky || (kx == ky && x < y);
  });
  idx.resize(k);
  return idx;
}

double mean_at(const std::vector<double>& values, const std::vector<int64_t>& idx, bool drop_nan) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t i : idx) {
    if (drop_nan && std::isnan(values[i])) continue;
    sum += values[i];
    ++n;
  }
  return n ? sum / double(n) : kNaN;
}

double nan_mean(const std::vector<double>& values) {
  std::vector<int64_t> all(values.size());
  std::iota(all.begin(), all.end(), 0);
  return mean_at(values, all, true);
}

SectionMetrics evaluate_section(const Matrix& pred, const Matrix& truth, int top) {
  if (pred.rows != truth.rows || pred.cols != truth.cols)
    throw std::invalid_argument("evaluate_section: prediction is " + std::to_string(pred.rows) +
                                "x" + std::to_string(pred.cols) + " but truth is " +
                                std::to_string(truth.rows) + "x" + std::to_string(truth.cols));
  const int64_t n = truth.rows, g = truth.cols;
  SectionMetrics m;
  m.n_spots = n;
  m.pcc.resize(static_cast<size_t>(g));
  m.p_value.resize(static_cast<size_t>(g));
  m.truth_mean.resize(static_cast<size_t>(g));
  m.truth_var.resize(static_cast<size_t>(g));
  std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  for (int64_t j = 0; j < g; ++j) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      a[i] = pred(i, j);
      b[i] = truth(i, j);
      sum += b[i];
    }
    double mean = n ? sum / double(n) : kNaN, ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += (b[i] - mean) * (b[i] - mean);
    m.truth_mean[j] = mean;
    m.truth_var[j] = n ? ss / double(n) : kNaN;
    m.pcc[j] = pearson(a.data(), b.data(), n);
    m.p_value[j] = pearson_p_value(m.pcc[j], n);
  }
  m.acg = nan_mean(m.pcc);
  auto heg_genes = top_indices(m.truth_mean, top);
  m.heg = mean_at(m.pcc, heg_genes, false);
  m.heg_nan_dropped = mean_at(m.pcc, heg_genes, true);
  m.hvg = mean_at(m.pcc, top_indices(m.truth_var, top), true);
  double se = 0, ae = 0;
  for (size_t i = 0; i < truth.data.size(); ++i) {
    double d = double(pred.data[i]) - double(truth.data[i]);
    se += d * d;
    ae += std::fabs(d);
  }
  double count = double(truth.data.size());
  m.mse = count ? se / count : kNaN;
  m.mae = count ? ae / count : kNaN;
  return m;
}

MeanSd mean_sd(const std::vector<double>& values) {
  MeanSd r;
  if (values.empty()) return {kNaN, kNaN};
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / double(values.size());
  if (values.size() < 2) {
    r.sd = kNaN;
    return r;
  }
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.sd = std::sqrt(ss / double(values.size() - 1));
  return r;
}

std::vector<GeneRank> rank_genes_by_log10p(const std::vector<std::string>& genes,
                                           const std::vector<SectionMetrics>& sections, int top) {
  std::vector<GeneRank> ranks;
  for (size_t g = 0; g < genes.size(); ++g) {
    GeneRank r;
    r.gene = genes[g];
    double score = 0, pcc = 0, best_p = 2;
    int n_score = 0, n_pcc = 0;
    for (size_t s = 0; s < sections.size(); ++s) {
      if (g >= sections[s].p_value.size())
        throw std::invalid_argument("rank_genes_by_log10p: section has fewer genes than names");
      double p = sections[s].p_value[g], c = sections[s].pcc[g];
      if (!std::isnan(p)) {
        score += -std::log10(std::max(p, 1e-300));
        ++n_score;
        if (p < best_p) best_p = p, r.best_section = int(s);
      }
      if (!std::isnan(c)) pcc += c, ++n_pcc;
    }
    r.mean_neg_log10_p = n_score ? score / n_score : kNaN;
    r.mean_pcc = n_pcc ? pcc / n_pcc : kNaN;
    ranks.push_back(r);
  }
  std::vector<double> scores;
  for (auto& r : ranks) scores.push_back(r.mean_neg_log10_p);
  std::vector<GeneRank> out;
  for (int64_t i : top_indices(scores, top))
    if (!std::isnan(ranks[i].mean_neg_log10_p)) out.push_back(ranks[i]);
  return out;
}

}  // namespace hiscmcl
