// Per-gene stacking of two predictors (METHOD.md §8.13): retrieval and the fair ridge make
// different errors, so a blend of the two beats each. Each prediction is standardised per gene over
// the spots of its section (PCC, the paper's metric, is blind to that), blended with a per-gene
// weight, restandardised, and put back on the first predictor's per-gene mean and sd.
//   fit_gene_blend: weights on a grid (0, 0.1, ..., 1) that maximise the mean over sections of each
//     gene's PCC against the truth. The sections should be held out from both predictors (inner
//     leave-one-section-out over a fold's training sections, never its test section; cv's
//     retrieval half only leaves the section's keys out, METHOD.md §8.13). Ties go to the weight
//     nearest 0.5.
// Pure maths on Matrix, so tests hit it directly.
#pragma once
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

struct BlendSection {
  Matrix a, b, truth;  // spots x genes: the two predictions and the measured expression
};

struct GeneBlend {
  std::vector<double> weight;  // per gene: the first predictor's weight in [0, 1]
  double mean_weight() const;
};

GeneBlend fit_gene_blend(const std::vector<BlendSection>& sections, int grid_steps = 10);
// One section's blend; a, b: spots x genes, genes as in the fitted blend.
Matrix apply_gene_blend(const GeneBlend& blend, const Matrix& a, const Matrix& b);

}  // namespace hiscmcl
