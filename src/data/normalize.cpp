#include "data/normalize.h"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace hiscmcl {

Normalization parse_normalization(const std::string& name) {
  if (name == "per_spot") return Normalization::per_spot;
  if (name == "per_gene_compat" || name == "per_gene") return Normalization::per_gene_compat;
  if (name == "per_spot_ln" || name == "log1p") return Normalization::per_spot_ln;
  throw std::invalid_argument("unknown normalisation '" + name +
                              "' (per_spot | per_gene_compat | per_spot_ln)");
}

std::string to_string(Normalization n) {
  switch (n) {
    case Normalization::per_spot: return "per_spot";
    case Normalization::per_gene_compat: return "per_gene_compat";
    case Normalization::per_spot_ln: return "per_spot_ln";
  }
  return "?";
}

Matrix normalize_per_spot(const Matrix& counts, double scale, bool natural_log) {
  Matrix out(counts.rows, counts.cols);
  for (int64_t r = 0; r < counts.rows; ++r) {
    double total = 0;
    for (int64_t c = 0; c < counts.cols; ++c) total += counts(r, c);
    if (total <= 0) continue;
    for (int64_t c = 0; c < counts.cols; ++c) {
      double y = scale * counts(r, c) / total;
      out(r, c) = float(natural_log ? std::log1p(y) : std::log10(1.0 + y));
    }
  }
  return out;
}

Matrix normalize_per_gene(const Matrix& counts, double scale) {
  Matrix out(counts.rows, counts.cols);
  std::vector<double> totals(size_t(counts.cols), 0.0);
  for (int64_t r = 0; r < counts.rows; ++r)
    for (int64_t c = 0; c < counts.cols; ++c) totals[size_t(c)] += counts(r, c);
  for (int64_t r = 0; r < counts.rows; ++r)
    for (int64_t c = 0; c < counts.cols; ++c)
      if (totals[size_t(c)] > 0)
        out(r, c) = float(std::log10(1.0 + scale * counts(r, c) / totals[size_t(c)]));
  return out;
}

Matrix normalize(const Matrix& counts, Normalization how) {
  switch (how) {
    case Normalization::per_spot: return normalize_per_spot(counts);
    case Normalization::per_gene_compat: return normalize_per_gene(counts);
    case Normalization::per_spot_ln: return normalize_per_spot(counts, 1e4, true);
  }
  return normalize_per_spot(counts);
}

}  // namespace hiscmcl
