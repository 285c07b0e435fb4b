#include "predict/gene_blend.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace hiscmcl {
namespace {

struct ColumnStats {
  std::vector<double> mean, sd;  // per gene; sd 0 for a constant column
};

ColumnStats column_stats(const Matrix& x) {
  ColumnStats s{std::vector<double>(size_t(x.cols), 0.0), std::vector<double>(size_t(x.cols), 0.0)};
  if (x.rows == 0) return s;
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t g = 0; g < x.cols; ++g) s.mean[size_t(g)] += x(i, g);
  for (auto& m : s.mean) m /= double(x.rows);
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t g = 0; g < x.cols; ++g) {
      const double d = x(i, g) - s.mean[size_t(g)];
      s.sd[size_t(g)] += d * d;
    }
  for (auto& v : s.sd) v = std::sqrt(v / double(x.rows));
  return s;
}

double z(const Matrix& x, const ColumnStats& s, int64_t i, int64_t g) {
  return s.sd[size_t(g)] > 0 ? (x(i, g) - s.mean[size_t(g)]) / s.sd[size_t(g)] : 0.0;
}

void check_same_shape(const Matrix& a, const Matrix& b, const char* what) {
  if (a.rows != b.rows || a.cols != b.cols)
    throw std::invalid_argument(std::string("gene blend: ") + what + " differ in shape");
}

}  // namespace

double GeneBlend::mean_weight() const {
  double s = 0;
  for (double w : weight) s += w;
  return weight.empty() ? 0.0 : s / double(weight.size());
}

GeneBlend fit_gene_blend(const std::vector<BlendSection>& sections, int grid_steps) {
  if (sections.empty()) throw std::invalid_argument("gene blend: no sections");
  if (grid_steps < 1) throw std::invalid_argument("gene blend: grid_steps must be >= 1");
  const int64_t genes = sections.front().a.cols;
  for (const auto& s : sections) {
    check_same_shape(s.a, s.b, "the two predictions");
    check_same_shape(s.a, s.truth, "prediction and truth");
    if (s.a.cols != genes) throw std::invalid_argument("gene blend: sections differ in genes");
  }
  // score[g][k]: sum over sections of PCC(w_k za + (1 - w_k) zb, truth); the z-scores have mean 0
  // and sd 1 (or are 0), so the PCC needs only cross products.
  std::vector<std::vector<double>> score(size_t(genes), std::vector<double>(size_t(grid_steps) + 1, 0.0));
  for (const auto& s : sections) {
    if (s.a.rows < 2) continue;
    const ColumnStats sa = column_stats(s.a), sb = column_stats(s.b), st = column_stats(s.truth);
    for (int64_t g = 0; g < genes; ++g) {
      if (!(st.sd[size_t(g)] > 0)) continue;  // a constant truth has no PCC: the section says nothing
      double at = 0, bt = 0, ab = 0;
      for (int64_t i = 0; i < s.a.rows; ++i) {
        const double za = z(s.a, sa, i, g), zb = z(s.b, sb, i, g), zt = z(s.truth, st, i, g);
        at += za * zt, bt += zb * zt, ab += za * zb;
      }
      const double n = double(s.a.rows);
      const double va = sa.sd[size_t(g)] > 0 ? 1.0 : 0.0, vb = sb.sd[size_t(g)] > 0 ? 1.0 : 0.0;
      at /= n, bt /= n, ab /= n;
      for (int k = 0; k <= grid_steps; ++k) {
        const double w = double(k) / grid_steps;
        const double var = w * w * va + (1 - w) * (1 - w) * vb + 2 * w * (1 - w) * ab;
        if (var > 1e-12) score[size_t(g)][size_t(k)] += (w * at + (1 - w) * bt) / std::sqrt(var);
      }
    }
  }
  GeneBlend blend;
  blend.weight.resize(size_t(genes));
  for (int64_t g = 0; g < genes; ++g) {
    int best = grid_steps / 2;
    for (int k = 0; k <= grid_steps; ++k) {
      const double d = score[size_t(g)][size_t(k)] - score[size_t(g)][size_t(best)];
      const bool nearer_half = std::abs(2 * k - grid_steps) < std::abs(2 * best - grid_steps);
      if (d > 1e-12 || (std::abs(d) <= 1e-12 && nearer_half)) best = k;
    }
    blend.weight[size_t(g)] = double(best) / grid_steps;
  }
  return blend;
}

Matrix apply_gene_blend(const GeneBlend& blend, const Matrix& a, const Matrix& b) {
  check_same_shape(a, b, "the two predictions");
  if (a.cols != int64_t(blend.weight.size())) throw std::invalid_argument("gene blend: fitted on other genes");
  const ColumnStats sa = column_stats(a), sb = column_stats(b);
  Matrix out(a.rows, a.cols);
  std::vector<double> mixed(size_t(a.rows));
  for (int64_t g = 0; g < a.cols; ++g) {
    const double w = blend.weight[size_t(g)];
    double ss = 0;
    for (int64_t i = 0; i < a.rows; ++i) {
      mixed[size_t(i)] = w * z(a, sa, i, g) + (1 - w) * z(b, sb, i, g);  // mean 0
      ss += mixed[size_t(i)] * mixed[size_t(i)];
    }
    // a mix of two z-scores has sd < 1 unless they agree: rescale it to 1, then put it on the
    // first predictor's sd (the second's if the first is constant)
    const double mixed_sd = a.rows > 0 ? std::sqrt(ss / double(a.rows)) : 0.0;
    const double scale = (sa.sd[size_t(g)] > 0 ? sa.sd[size_t(g)] : sb.sd[size_t(g)]) / (mixed_sd > 0 ? mixed_sd : 1.0);
    for (int64_t i = 0; i < a.rows; ++i) out(i, g) = float(sa.mean[size_t(g)] + scale * mixed[size_t(i)]);
  }
  return out;
}

}  // namespace hiscmcl
