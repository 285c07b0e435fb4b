#include "data/prepare.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/atomic_output.h"
#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "data/gene_panel.h"
#include "io/h5ad.h"
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

// OUT may be replaced only if it is absent, empty, or an earlier store.
void check_out_replaceable(const fs::path& out) {
  if (!fs::exists(out)) return;
  if (!fs::is_directory(out)) throw InputError(out.string(), "--out exists and is not a folder");
  if (fs::is_empty(out) || fs::exists(out / "summary.json")) return;
  throw InputError(out.string(),
                   "--out exists and is not a dataset store (no summary.json); refusing to replace it");
}

}  // namespace

std::string PrepareSummary::to_json() const {
  nlohmann::ordered_json j;
  j["genes"] = genes;
  j["sections"] = nlohmann::ordered_json::object();
  for (const auto& id : section_ids) {
    auto it = n_spots.find(id);
    j["sections"][id] = {{"n_spots", it == n_spots.end() ? 0 : it->second},
                         {"n_genes", int64_t(genes.size())}};
  }
  j["normalization"] = normalization;
  j["manifest"] = manifest;
  return j.dump(1) + "\n";
}

std::vector<std::string> choose_panel(const std::vector<Section>& sections, const PanelChoice& how) {
  std::vector<std::string> panel;
  std::string what;
  if (!how.genes_file.empty()) {
    panel = load_gene_panel(how.genes_file);
    what = how.genes_file.string();
  } else if (how.top_mean > 0) {
    panel = select_top_mean_panel(sections, how.top_mean);
    what = "top " + std::to_string(how.top_mean) + " by mean";
  } else {
    int top = how.hvg_top > 0 ? how.hvg_top : 1000;
    panel = select_hvg_panel(sections, top, how.min_spots);
    what = "top " + std::to_string(top) + " HVG per section, detected in >= " +
           std::to_string(how.min_spots) + " spots";
  }
  if (panel.empty())
    throw InputError(what, "the gene panel came out empty (no gene passes the rule in every section)");
  spdlog::info("gene panel: {} genes ({})", panel.size(), what);
  return panel;
}

PreparedSection prepare_section(const Section& s, const std::vector<std::string>& panel,
                                Normalization how, bool allow_missing_genes,
                                const std::string& source) {
  if (s.n_spots() == 0) throw InputError(source, "section '" + s.id + "' has no spots");
  if (s.counts.rows != s.n_spots() || s.counts.cols != s.n_genes())
    throw InputError(source, "section '" + s.id + "': counts are not spots x genes");
  std::unordered_map<std::string, int64_t> column;
  for (size_t j = 0; j < s.genes.size(); ++j) column.emplace(s.genes[j], int64_t(j));
  std::vector<int64_t> columns;
  std::vector<std::string> missing;
  for (const auto& g : panel) {
    auto it = column.find(g);
    columns.push_back(it == column.end() ? -1 : it->second);
    if (it == column.end()) missing.push_back(g);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += ", ...";
    std::string msg = std::to_string(missing.size()) + " of " + std::to_string(panel.size()) +
                      " panel genes absent from section '" + s.id + "': " + list;
    if (!allow_missing_genes)
      throw InputError(source, msg + " (use --allow-missing-genes to zero-fill them)");
    spdlog::warn("{}: {}; zero-filled", source, msg);
  }

  PreparedSection p;
  p.id = s.id;
  p.patient = s.patient;
  p.genes = panel;
  p.spot_ids = s.spot_ids;
  p.counts = s.counts.dense_columns(columns);
  for (int64_t r = 0; r < p.counts.rows; ++r)
    for (int64_t c = 0; c < p.counts.cols; ++c) {
      float v = p.counts(r, c);
      if (!std::isfinite(v) || v < 0)
        throw InputError(source, "count of gene '" + panel[size_t(c)] + "' at spot '" +
                                     s.spot_ids[size_t(r)] + "' is " + std::to_string(v) +
                                     " (must be finite and non-negative)");
    }
  p.expression = normalize(p.counts, how);
  p.normalization = to_string(how);
  p.array_xy = s.array_xy;
  p.pixel_xy = s.pixel_xy;
  p.labels = s.labels;
  p.image = s.image;
  if (!p.image.image_path.empty())
    p.image.image_path = fs::absolute(p.image.image_path).lexically_normal().string();
  return p;
}

void write_store(const fs::path& out, const std::vector<PreparedSection>& sections,
                 const PrepareSummary& summary) {
  check_out_replaceable(out);
  AtomicPath dir(out);
  fs::create_directories(dir.temp());
  for (const auto& s : sections) write_prepared_h5ad(dir.temp() / (s.id + ".h5ad"), s);
  write_text_file(dir.temp() / "summary.json", summary.to_json());
  dir.commit();
}

PrepareSummary prepare_dataset(const PrepareOptions& opts) {
  check_out_replaceable(opts.out);  // fail before the slow part
  Manifest manifest = load_manifest(opts.manifest, opts.data_root);
  std::vector<ManifestSection> chosen = manifest.select(opts.sections);
  if (chosen.empty()) throw InputError(opts.manifest.string(), "no sections to prepare");

  std::vector<Section> sections(chosen.size());
  {
    std::unique_ptr<ProgressBar> bar;
    if (opts.progress) bar = std::make_unique<ProgressBar>("reading sections", int64_t(chosen.size()), "sections");
    parallel_for(int64_t(chosen.size()), [&](int64_t i) {
      sections[size_t(i)] = read_section(chosen[size_t(i)]);
      if (bar) bar->advance();
    });
    if (bar) bar->finish();
  }

  std::vector<std::string> panel = choose_panel(sections, opts.panel);
  std::vector<PreparedSection> prepared(sections.size());
  parallel_for(int64_t(sections.size()), [&](int64_t i) {
    prepared[size_t(i)] = prepare_section(sections[size_t(i)], panel, opts.normalization,
                                          opts.allow_missing_genes, counts_source(chosen[size_t(i)]));
  });
  sections.clear();

  PrepareSummary summary;
  summary.genes = panel;
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
