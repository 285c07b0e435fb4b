#include "pipeline/prepare.h"

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/output_folder.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "common/log.h"
#include "config/choices.h"
#include "data/gene_panel.h"
#include "eval/gene_symbols.h"
#include "io/manifest.h"
#include "io/section_reader.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// The file to name when a section's counts are at fault.
std::string counts_source(const ManifestSection& ms) {
  for (const char* key : {"counts", "file", "dir"}) {
    auto it = ms.files.find(key);
    if (it != ms.files.end()) return it->second.string();
  }
  return ms.id;
}

}  // namespace

std::vector<MarkerSet> resolve_markers(const PrepareOptions& opts, const Manifest& manifest,
                                       const std::vector<std::string>& section_genes) {
  std::vector<MarkerSet> out;
  for (const auto& name : opts.marker_sets) {
    bool found = false;
    for (const auto& set : manifest.markers)
      if (name == "all" || set.name == name) {
        out.push_back(set);
        found = true;
      }
    if (!found) {
      std::string valid;
      for (const auto& set : manifest.markers) valid += (valid.empty() ? "" : ", ") + set.name;
      throw InputError(manifest.path.string(), "no marker set '" + name + "' in [markers] (sets: " +
                                                   (valid.empty() ? "none" : valid) + ")");
    }
  }
  if (!opts.add_genes.empty()) out.push_back({"added", opts.add_genes});
  if (out.empty() || manifest.gene_symbols.empty()) return out;
  // Symbols -> ids where the counts name genes by id (MOB: versioned Ensembl ids).
  std::unordered_set<std::string> ids(section_genes.begin(), section_genes.end());
  std::unordered_map<std::string, std::string> by_symbol;
  for (const auto& [id, symbol] : load_gene_symbols(manifest.gene_symbols))
    if (ids.count(id)) by_symbol.emplace(symbol, id);
  for (auto& set : out)
    for (auto& g : set.genes)
      if (!ids.count(g))
        if (auto it = by_symbol.find(g); it != by_symbol.end()) g = it->second;
  return out;
}

PanelChoice default_panel(const PanelChoice& panel, const Manifest& manifest) {
  if (!panel.genes_file.empty() || panel.hvg_top > 0 || panel.top_mean > 0) return panel;
  PanelChoice out;
  if (!manifest.genes.empty()) {
    out.genes_file = manifest.genes;
  } else {
    out.hvg_top = 1000;
    out.min_spots = panel.min_spots;
  }
  return out;
}

PrepareSummary prepare_dataset(const PrepareOptions& opts) {
  // Fail before the slow part; the store never replaces its own inputs.
  check_output_folder(opts.out, "prepare", {opts.manifest, opts.data_root, opts.panel.genes_file}, "summary.json");
  Manifest manifest = load_manifest(opts.manifest, opts.data_root);
  std::vector<ManifestSection> chosen = manifest.select(opts.sections);
  if (chosen.empty()) throw InputError(opts.manifest.string(), "no sections to prepare");

  std::vector<Section> sections(chosen.size());
  ReadOptions read_options;
  read_options.allow_missing_spots = opts.allow_missing_spots;
  for (const auto& ms : chosen) check_section_in_child(ms, read_options);  // before any thread reads HDF5
  {
    std::unique_ptr<ProgressBar> bar;
    if (opts.progress) bar = std::make_unique<ProgressBar>("reading sections", int64_t(chosen.size()), "sections");
    parallel_for(int64_t(chosen.size()), [&](int64_t i) {
      sections[size_t(i)] = read_section(chosen[size_t(i)], read_options);
      if (bar) bar->advance();
    });
    if (bar) bar->finish();
  }

  std::vector<std::string> panel = choose_panel(sections, default_panel(opts.panel, manifest));
  const std::vector<MarkerSet> markers = resolve_markers(opts, manifest, sections.front().genes);
  if (!markers.empty()) {
    std::vector<std::string> extra;
    for (const auto& m : markers) extra.insert(extra.end(), m.genes.begin(), m.genes.end());
    const size_t before = panel.size();
    panel = with_added_genes(panel, extra);
    spdlog::info("gene panel: {} marker genes added ({} were in it already)", panel.size() - before,
                 extra.size() - (panel.size() - before));
  }
  std::vector<PreparedSection> prepared(sections.size());
  parallel_for(int64_t(sections.size()), [&](int64_t i) {
    prepared[size_t(i)] = prepare_section(sections[size_t(i)], panel, opts.normalization,
                                          opts.allow_missing_genes, counts_source(chosen[size_t(i)]));
  });
  sections.clear();

  PrepareSummary summary;
  summary.genes = panel;
  summary.markers = markers;
  for (const auto& p : prepared) {
    summary.section_ids.push_back(p.id);
    summary.n_spots[p.id] = p.n_spots();
  }
  summary.normalization = to_string(opts.normalization);
  summary.manifest = fs::absolute(manifest.path).lexically_normal().string();
  write_store(opts.out, prepared, summary);
  return summary;
}

}  // namespace hiscmcl
