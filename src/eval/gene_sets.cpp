#include "eval/gene_sets.h"

#include <algorithm>
#include <cmath>

namespace hiscmcl {

std::vector<float> gene_set_score(const Matrix& x, const std::vector<int64_t>& columns) {
  std::vector<double> score(size_t(x.rows), 0.0);
  if (columns.empty() || x.rows == 0) return std::vector<float>(score.begin(), score.end());
  for (int64_t c : columns) {
    double mean = 0, ss = 0;
    for (int64_t r = 0; r < x.rows; ++r) mean += x(r, c);
    mean /= double(x.rows);
    for (int64_t r = 0; r < x.rows; ++r) ss += (x(r, c) - mean) * (x(r, c) - mean);
    const double sd = std::sqrt(ss / double(x.rows));
    if (!(sd > 0)) continue;
    for (int64_t r = 0; r < x.rows; ++r) score[size_t(r)] += (x(r, c) - mean) / sd;
  }
  std::vector<float> out(score.size());
  for (size_t r = 0; r < out.size(); ++r) out[r] = float(score[r] / double(columns.size()));
  return out;
}

std::vector<int64_t> panel_columns(const std::vector<std::string>& panel, const std::vector<std::string>& genes) {
  std::vector<int64_t> out;
  for (const auto& g : genes)
    if (auto it = std::find(panel.begin(), panel.end(), g); it != panel.end()) out.push_back(it - panel.begin());
  return out;
}

}  // namespace hiscmcl
