// `prepare`: read a manifest's sections, choose the gene panel, restrict and normalise the counts,
// and write the dataset store (data/prepare.h has the layout). OUT is built under a temporary
// name and renamed at the end: an error leaves no OUT behind. An existing OUT is replaced only when
// it is an earlier store (has summary.json) or empty.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "data/prepare.h"

namespace hiscmcl {

struct PrepareOptions {
  std::filesystem::path manifest;
  std::filesystem::path data_root;   // empty: the manifest's folder
  std::filesystem::path out;
  std::vector<std::string> sections;  // none = all
  PanelChoice panel;                 // nothing set: see default_panel
  // Marker genes appended to the panel: the manifest's [markers] sets named here ("all" = every
  // set), and single genes (set "added"). By symbol or by id; a symbol is mapped to the counts'
  // ids through the manifest's gene_symbols table. Absent from a section: as any panel gene.
  std::vector<std::string> marker_sets;
  std::vector<std::string> add_genes;
  Normalization normalization = Normalization::per_spot;
  bool allow_missing_genes = false;  // zero-fill panel genes a section lacks (with a warning)
  bool allow_missing_spots = false;  // drop selected ST spots without counts (ReadOptions)
  bool progress = true;
};

// The panel when no panel option is set: the manifest's `genes` file, else HVG 1000 with
// min_spots 0. Any option set: `panel` unchanged.
PanelChoice default_panel(const PanelChoice& panel, const Manifest& manifest);

// The marker sets asked for, with symbols mapped to the ids the sections' counts use
// (InputError naming the manifest for an unknown set).
std::vector<MarkerSet> resolve_markers(const PrepareOptions& opts, const Manifest& manifest,
                                       const std::vector<std::string>& section_genes);

// The whole stage: manifest -> store. Returns what summary.json holds.
PrepareSummary prepare_dataset(const PrepareOptions& opts);

}  // namespace hiscmcl
