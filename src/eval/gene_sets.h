// Gene-set scores ("where is the immune infiltrate"): the mean z-score of a set's genes, each gene
// standardised over the spots of one section. A constant gene adds 0; a set with no gene in the
// panel has no score. Pure maths, so tests hit it directly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

std::vector<float> gene_set_score(const Matrix& x, const std::vector<int64_t>& columns);

// Panel indices of `genes` (those the panel lacks are left out).
std::vector<int64_t> panel_columns(const std::vector<std::string>& panel, const std::vector<std::string>& genes);

}  // namespace hiscmcl
