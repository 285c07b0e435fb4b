// Expression normalisation (METHOD.md §3.3). Pure functions over spots x genes matrices.
//   per_spot (default, the reference's training input "A"): each spot (row) scaled to 1e4 over
//     the panel genes, then log10(1 + y). A row summing to 0 stays 0.
//   per_gene_compat (the reference's evaluation matrices "B"): the same along each gene (column)
//     across the spots of one section.
//   per_spot_ln: per spot, natural log1p instead of log10 (scanpy's normalize_total + log1p).
#pragma once
#include <string>

#include "common/matrix.h"
#include "config/choices.h"  // enum Normalization: a config choice, read and checked there

namespace hiscmcl {

Normalization parse_normalization(const std::string& name);  // throws std::invalid_argument
std::string to_string(Normalization n);

Matrix normalize_per_spot(const Matrix& counts, double scale = 1e4, bool natural_log = false);
Matrix normalize_per_gene(const Matrix& counts, double scale = 1e4);
Matrix normalize(const Matrix& counts, Normalization how);

}  // namespace hiscmcl
