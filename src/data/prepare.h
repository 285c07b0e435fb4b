// `prepare`: read a manifest's sections, choose the gene panel, restrict and normalise the
// counts, and write the dataset store:
//   OUT/<id>.h5ad     one PreparedSection per section (io/h5ad.h layout)
//   OUT/summary.json  {"genes": [...], "sections": {"<id>": {"n_spots", "n_genes"}},
//                      "normalization": "...", "manifest": "<absolute path>"}
// OUT is built under a temporary name and renamed at the end: an error leaves no OUT behind.
// An existing OUT is replaced only when it is an earlier store (has summary.json) or empty.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/normalize.h"
#include "data/section.h"

namespace hiscmcl {

// How to choose the panel: a file, Seurat HVG ("cut" rule), or top-N by mean.
struct PanelChoice {
  std::filesystem::path genes_file;  // non-empty: load_gene_panel(genes_file)
  int hvg_top = 0;                   // > 0: select_hvg_panel(sections, hvg_top, min_spots)
  int min_spots = 0;
  int top_mean = 0;                  // > 0: select_top_mean_panel(sections, top_mean)
};

struct PrepareOptions {
  std::filesystem::path manifest;
  std::filesystem::path data_root;  // empty: the manifest's folder
  std::filesystem::path out;
  std::string sections;             // comma list; empty = all
  PanelChoice panel;                // nothing set: HVG 1000 with min_spots 0
  Normalization normalization = Normalization::per_spot;
  bool allow_missing_genes = false;  // zero-fill panel genes a section lacks (with a warning)
  bool progress = true;
};

struct PrepareSummary {
  std::vector<std::string> genes;
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

// Writes OUT/<id>.h5ad for each section and OUT/summary.json, atomically as a whole.
void write_store(const std::filesystem::path& out, const std::vector<PreparedSection>& sections,
                 const PrepareSummary& summary);

// The whole stage: manifest -> store. Returns what summary.json holds.
PrepareSummary prepare_dataset(const PrepareOptions& opts);

}  // namespace hiscmcl
