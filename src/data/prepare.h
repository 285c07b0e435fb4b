// The dataset store's pieces: the gene panel, one section restricted to it and normalised, and the
// store written as a whole:
//   OUT/<id>.h5ad     one PreparedSection per section (io/h5ad.h layout)
//   OUT/summary.json  {"genes": [...], "sections": {"<id>": {"n_spots", "n_genes"}},
//                      "normalization": "...", "manifest": "<absolute path>"}
// The `prepare` stage that reads a manifest and calls these is pipeline/prepare.h.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/normalize.h"
#include "io/manifest.h"
#include "io/section.h"

namespace hiscmcl {

// How to choose the panel: a file, Seurat HVG ("cut" rule), or top-N by mean.
struct PanelChoice {
  std::filesystem::path genes_file;  // non-empty: load_gene_panel(genes_file)
  int hvg_top = 0;                   // > 0: select_hvg_panel(sections, hvg_top, min_spots)
  int min_spots = 0;
  int top_mean = 0;                  // > 0: select_top_mean_panel(sections, top_mean)
};

struct PrepareSummary {
  std::vector<std::string> genes;
  std::vector<MarkerSet> markers;        // marker sets added to the panel (gene ids as in `genes`)
  std::vector<std::string> section_ids;  // manifest order
  std::map<std::string, int64_t> n_spots;
  std::string normalization;
  std::string manifest;
  std::string to_json() const;  // the summary.json text
};

// The panel for these sections (InputError if it comes out empty).
std::vector<std::string> choose_panel(const std::vector<Section>& sections, const PanelChoice& how);

// Restricts s to the panel (in panel order) and normalises. A panel gene absent from s is an
// InputError naming `source` (the section's counts file) and the first few missing genes, or
// a zero column with a warning when allow_missing_genes. Empty sections and NaN/negative
// counts are InputErrors too. The image path is made absolute.
PreparedSection prepare_section(const Section& s, const std::vector<std::string>& panel,
                                Normalization how, bool allow_missing_genes,
                                const std::string& source);

// InputError unless OUT may be replaced: absent, empty, or an earlier store (has summary.json).
void check_out_replaceable(const std::filesystem::path& out);

// Writes OUT/<id>.h5ad for each section and OUT/summary.json, atomically as a whole.
void write_store(const std::filesystem::path& out, const std::vector<PreparedSection>& sections,
                 const PrepareSummary& summary);

}  // namespace hiscmcl
