#include "data/gene_panel.h"

#include "io/text_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/thread_pool.h"
#include "io/npy.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per-gene sums of normalize_total(1e4) values (and their squares) over the spots.
void normalized_moments(const SparseCounts& c, std::vector<double>& sum, std::vector<double>& sumsq,
                        bool log1p_values) {
  sum.assign(size_t(c.cols), 0.0);
  sumsq.assign(size_t(c.cols), 0.0);
  for (int64_t r = 0; r < c.rows; ++r) {
    double total = 0;
    for (int64_t k = c.indptr[size_t(r)]; k < c.indptr[size_t(r + 1)]; ++k) total += c.values[size_t(k)];
    if (total <= 0) continue;
    for (int64_t k = c.indptr[size_t(r)]; k < c.indptr[size_t(r + 1)]; ++k) {
      double y = 1e4 * c.values[size_t(k)] / total;
      if (log1p_values) y = std::log1p(y);
      sum[size_t(c.indices[size_t(k)])] += y;
      sumsq[size_t(c.indices[size_t(k)])] += y * y;
    }
  }
}

// Spots with count > 0, per column.
std::vector<int64_t> detection_counts(const SparseCounts& c) {
  std::vector<int64_t> det(size_t(c.cols), 0);
  for (size_t k = 0; k < c.values.size(); ++k)
    if (c.values[k] > 0) ++det[size_t(c.indices[k])];
  return det;
}

std::unordered_map<std::string, int64_t> column_of(const Section& s) {
  std::unordered_map<std::string, int64_t> m;
  for (size_t j = 0; j < s.genes.size(); ++j) m.emplace(s.genes[j], int64_t(j));
  return m;
}

}  // namespace

std::vector<std::string> load_gene_panel(const fs::path& path) {
  const std::string file = path.string();
  std::vector<std::string> genes;
  std::vector<std::string> where;  // for error messages
  if (path.extension() == ".npy") {
    genes = read_npy_strings(path);
    for (size_t i = 0; i < genes.size(); ++i) {
      genes[i] = std::string(trim(genes[i]));
      where.push_back("entry " + std::to_string(i));
      if (genes[i].empty()) throw InputError(file, "empty gene name", where.back());
    }
  } else {
    std::ifstream f(path);
    if (!f) throw InputError(file, fs::exists(path) ? "cannot read" : "file not found");
    std::string line;
    for (int lineno = 1; std::getline(f, line); ++lineno) {
      if (lineno == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);  // BOM
      std::string g(trim(line));
      if (g.empty() || g[0] == '#') continue;
      if (g.find_first_of(" \t,") != std::string::npos)
        throw InputError(file, "expected one gene symbol per line, got '" + g + "'",
                         "line " + std::to_string(lineno));
      genes.push_back(g);
      where.push_back("line " + std::to_string(lineno));
    }
  }
  if (genes.empty()) throw InputError(file, "the gene panel is empty");
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < genes.size(); ++i)
    if (!seen.insert(genes[i]).second)
      throw InputError(file, "gene '" + genes[i] + "' is listed twice", where[i]);
  return genes;
}

std::vector<double> seurat_normalized_dispersion(const SparseCounts& c) {
  const int64_t n = c.rows, g = c.cols;
  std::vector<double> sum, sumsq;
  normalized_moments(c, sum, sumsq, false);
  std::vector<double> disp(static_cast<size_t>(g)), mean_log(static_cast<size_t>(g));
  for (int64_t j = 0; j < g; ++j) {
    double mean = n > 0 ? sum[size_t(j)] / double(n) : 0.0;
    double var = n > 1 ? (sumsq[size_t(j)] / double(n) - mean * mean) * double(n) / double(n - 1) : 0.0;
    if (var < 0) var = 0;  // rounding
    if (mean == 0) mean = 1e-12;
    double d = var / mean;
    disp[size_t(j)] = d == 0 ? kNaN : std::log(d);
    mean_log[size_t(j)] = std::log1p(mean);
  }
  if (g == 0) return disp;

  // pandas.cut(mean_log, bins=20): equal-width right-closed bins; the lowest edge moved down
  // by 0.1% of the range so the minimum falls inside.
  const int kBins = 20;
  double mn = *std::min_element(mean_log.begin(), mean_log.end());
  double mx = *std::max_element(mean_log.begin(), mean_log.end());
  std::vector<int> bin(size_t(g), 0);
  if (mx > mn) {
    std::vector<double> edges(kBins + 1);
    for (int i = 0; i <= kBins; ++i) edges[size_t(i)] = mn + (mx - mn) * double(i) / kBins;
    edges[0] -= (mx - mn) * 0.001;
    for (int64_t j = 0; j < g; ++j) {
      auto it = std::lower_bound(edges.begin(), edges.end(), mean_log[size_t(j)]);
      bin[size_t(j)] = std::clamp(int(it - edges.begin()) - 1, 0, kBins - 1);
    }
  }
  // Per-bin mean and sample sd of the (non-NaN) log dispersions.
  std::vector<double> bsum(kBins, 0), bsq(kBins, 0), bcount(kBins, 0);
  for (int64_t j = 0; j < g; ++j)
    if (!std::isnan(disp[size_t(j)])) {
      bsum[size_t(bin[size_t(j)])] += disp[size_t(j)];
      bcount[size_t(bin[size_t(j)])] += 1;
    }
  std::vector<double> bmean(kBins, kNaN), bsd(kBins, kNaN);
  for (int b = 0; b < kBins; ++b)
    if (bcount[size_t(b)] > 0) bmean[size_t(b)] = bsum[size_t(b)] / bcount[size_t(b)];
  for (int64_t j = 0; j < g; ++j)
    if (!std::isnan(disp[size_t(j)])) {
      double d = disp[size_t(j)] - bmean[size_t(bin[size_t(j)])];
      bsq[size_t(bin[size_t(j)])] += d * d;
    }
  for (int b = 0; b < kBins; ++b) {
    if (bcount[size_t(b)] > 1) {
      bsd[size_t(b)] = std::sqrt(bsq[size_t(b)] / (bcount[size_t(b)] - 1));
    } else {
      // scanpy: a bin with a single gene gets sd = its mean and mean = 0 (normalised value 1).
      bsd[size_t(b)] = bmean[size_t(b)];
      bmean[size_t(b)] = 0;
    }
  }
  std::vector<double> norm(static_cast<size_t>(g));
  for (int64_t j = 0; j < g; ++j)
    norm[size_t(j)] = (disp[size_t(j)] - bmean[size_t(bin[size_t(j)])]) / bsd[size_t(bin[size_t(j)])];
  return norm;
}

std::vector<int64_t> seurat_hvg(const SparseCounts& counts, int n_top) {
  if (n_top <= 0) throw std::invalid_argument("seurat_hvg: n_top must be positive");
  std::vector<double> norm = seurat_normalized_dispersion(counts);
  std::vector<double> finite;
  for (double v : norm)
    if (!std::isnan(v)) finite.push_back(v);
  if (finite.empty()) return {};
  std::sort(finite.begin(), finite.end(), std::greater<double>());
  const double cutoff = finite[std::min(finite.size(), size_t(n_top)) - 1];
  std::vector<int64_t> out;
  for (size_t j = 0; j < norm.size(); ++j) {
    double v = std::isnan(norm[j]) ? 0.0 : norm[j];  // np.nan_to_num, as scanpy compares
    if (v >= cutoff) out.push_back(int64_t(j));
  }
  return out;
}

std::vector<std::string> select_hvg_panel(const std::vector<Section>& sections, int n_top,
                                          int min_spots) {
  if (sections.empty()) throw std::invalid_argument("select_hvg_panel: no sections");
  std::vector<std::vector<int64_t>> hvg(sections.size());
  std::vector<std::vector<int64_t>> detected(sections.size());
  parallel_for(int64_t(sections.size()), [&](int64_t i) {
    hvg[size_t(i)] = seurat_hvg(sections[size_t(i)].counts, n_top);
    detected[size_t(i)] = detection_counts(sections[size_t(i)].counts);
  });
  std::set<std::string> united;
  for (size_t i = 0; i < sections.size(); ++i)
    for (int64_t j : hvg[i]) united.insert(sections[i].genes[size_t(j)]);

  std::vector<std::unordered_map<std::string, int64_t>> columns;
  for (const auto& s : sections) columns.push_back(column_of(s));
  std::vector<std::pair<int64_t, std::string>> kept;  // (detection, gene)
  for (const auto& gene : united) {
    int64_t total = 0;
    bool everywhere = true;
    for (size_t i = 0; i < sections.size() && everywhere; ++i) {
      auto it = columns[i].find(gene);
      if (it == columns[i].end()) everywhere = false;
      else total += detected[i][size_t(it->second)];
    }
    if (everywhere && total >= min_spots) kept.emplace_back(total, gene);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  for (auto& [d, gene] : kept) out.push_back(gene);
  return out;
}

std::vector<std::string> select_top_mean_panel(const std::vector<Section>& sections, int n_top) {
  if (sections.empty()) throw std::invalid_argument("select_top_mean_panel: no sections");
  if (n_top <= 0) throw std::invalid_argument("select_top_mean_panel: n_top must be positive");
  std::vector<std::vector<double>> sums(sections.size());
  parallel_for(int64_t(sections.size()), [&](int64_t i) {
    std::vector<double> sq;
    normalized_moments(sections[size_t(i)].counts, sums[size_t(i)], sq, true);
  });
  std::vector<std::unordered_map<std::string, int64_t>> columns;
  int64_t spots = 0;
  for (const auto& s : sections) {
    columns.push_back(column_of(s));
    spots += s.n_spots();
  }
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& gene : sections[0].genes) {
    double total = 0;
    bool everywhere = true;
    for (size_t i = 0; i < sections.size() && everywhere; ++i) {
      auto it = columns[i].find(gene);
      if (it == columns[i].end()) everywhere = false;
      else total += sums[i][size_t(it->second)];
    }
    if (everywhere) ranked.emplace_back(spots > 0 ? total / double(spots) : 0.0, gene);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (ranked.size() > size_t(n_top)) ranked.resize(size_t(n_top));
  std::vector<std::string> out;
  for (auto& [m, gene] : ranked) out.push_back(gene);
  return out;
}

std::vector<std::string> with_added_genes(std::vector<std::string> panel, const std::vector<std::string>& extra) {
  std::unordered_set<std::string> have(panel.begin(), panel.end());
  for (const auto& g : extra)
    if (have.insert(g).second) panel.push_back(g);
  return panel;
}

}  // namespace hiscmcl
