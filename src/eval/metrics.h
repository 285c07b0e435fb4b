// Evaluation maths for one held-out section (METHOD.md §8.8, §8.9). Pure functions.
//   pearson: NaN when either vector is constant (or n < 2). pearson_p_value: two-sided t-test,
//     n - 2 degrees of freedom, via the regularised incomplete beta function.
//   evaluate_section(pred, truth): per-gene PCC/p/mean/variance over spots, then
//     ACG = mean PCC over all genes, NaN dropped;
//     HEG = mean PCC of the `top` genes with the largest truth mean, NaN NOT dropped
//           (METHOD.md §9.15), heg_nan_dropped = the same with NaN dropped;
//     HVG = mean PCC of the `top` genes with the largest truth variance, NaN dropped;
//     MSE, MAE over all entries. Ties in the rankings go to the lower gene index.
//   mean_sd: unweighted mean and sample sd (n - 1) over sections; NaN propagates (as numpy).
//   rank_genes_by_log10p: METHOD.md §8.9, genes ranked by mean -log10 p over sections.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

double pearson(const double* a, const double* b, int64_t n);
double pearson(const float* a, const float* b, int64_t n);
// Spearman rank correlation: Pearson of the ranks, ties given their mean rank; NaN as pearson.
double spearman(const double* a, const double* b, int64_t n);
// How well a predicted spread ranks the errors: per gene, Spearman over spots between sd and
// |pred - truth|, averaged over the genes where it is defined (NaN if none). > 0: useful.
double uncertainty_rank_score(const Matrix& pred, const Matrix& sd, const Matrix& truth);

// Two-sided p-value of Pearson r over n samples; NaN when r is NaN or n < 3.
double pearson_p_value(double r, int64_t n);
// Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1.
double incomplete_beta(double a, double b, double x);

struct SectionMetrics {
  std::vector<double> pcc, p_value, truth_mean, truth_var;  // per gene; var is population (ddof 0)
  double acg = 0, heg = 0, heg_nan_dropped = 0, hvg = 0, mse = 0, mae = 0;
  int64_t n_spots = 0;
};

// pred and truth: spots x genes, same shape (throws std::invalid_argument otherwise).
SectionMetrics evaluate_section(const Matrix& pred, const Matrix& truth, int top = 50);

// Indices of the `top` largest values, descending; ties to the lower index.
std::vector<int64_t> top_indices(const std::vector<double>& values, int top);
// Mean of the values at idx; drop_nan: skip NaN (NaN if none left).
double mean_at(const std::vector<double>& values, const std::vector<int64_t>& idx, bool drop_nan);
double nan_mean(const std::vector<double>& values);

struct MeanSd {
  double mean = 0, sd = 0;  // sd NaN for fewer than 2 values
};
MeanSd mean_sd(const std::vector<double>& values);

struct GeneRank {
  std::string gene;
  double mean_neg_log10_p = 0;  // over the sections where p is defined
  double mean_pcc = 0;          // NaN dropped
  int best_section = -1;        // index of the section with the smallest p
};
// p_values[s][g] per section; p clamped to 1e-300 before the log. Highest score first.
std::vector<GeneRank> rank_genes_by_log10p(const std::vector<std::string>& genes,
                                           const std::vector<SectionMetrics>& sections, int top);

}  // namespace hiscmcl
