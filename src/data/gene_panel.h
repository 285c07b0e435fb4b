// The gene panel: the ordered list of genes every stage predicts (METHOD.md §3.1–3.2).
// Order = output order.
//   load_gene_panel: a .txt (one symbol a line; blank lines and '#' comments ignored) or a .npy
//     of fixed-width strings. Duplicates and empty panels are InputErrors naming the file.
//   select_hvg_panel: the reference's "cut" rule: per section, the top n_top Seurat-flavour
//     highly variable genes; their union across sections; kept if present in every section and
//     detected (count > 0) in >= min_spots spots summed over all sections. Ordered by that
//     detection count descending, ties by name.
//   select_top_mean_panel: genes present in every section, top n_top by the mean over all spots
//     of log1p(1e4 * count / spot total); ordered by that mean descending, ties by name.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "io/section.h"

namespace hiscmcl {

std::vector<std::string> load_gene_panel(const std::filesystem::path& path);

// Seurat-flavour HVG of one section (scanpy highly_variable_genes(flavor="seurat",
// n_top_genes) after normalize_total(1e4) + log1p): mean and variance (ddof 1) of the
// normalised counts, dispersion = var/mean, log dispersion z-scored within 20 equal-width bins
// of log1p(mean). Returns the column indices whose normalised dispersion reaches the n_top-th
// largest (ties included, as scanpy does), in column order.
std::vector<int64_t> seurat_hvg(const SparseCounts& counts, int n_top);

// The normalised dispersions seurat_hvg ranks (NaN where undefined); exposed for tests.
std::vector<double> seurat_normalized_dispersion(const SparseCounts& counts);

std::vector<std::string> select_hvg_panel(const std::vector<Section>& sections, int n_top,
                                          int min_spots);
std::vector<std::string> select_top_mean_panel(const std::vector<Section>& sections, int n_top);

// The panel with `extra` genes appended in the given order; genes already in it keep their place
// (so the paper's panel is unchanged, with markers after it).
std::vector<std::string> with_added_genes(std::vector<std::string> panel, const std::vector<std::string>& extra);

}  // namespace hiscmcl
