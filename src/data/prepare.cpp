#include "data/prepare.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/atomic_output.h"
#include "common/output_folder.h"
#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "data/gene_panel.h"
#include "io/h5ad.h"

namespace fs = std::filesystem;

namespace hiscmcl {
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
  j["markers"] = nlohmann::ordered_json::object();
  for (const auto& m : markers) j["markers"][m.name] = m.genes;
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
  p.clusters = s.clusters;
  p.image = s.image;
  if (!p.image.image_path.empty())
    p.image.image_path = fs::absolute(p.image.image_path).lexically_normal().string();
  return p;
}

void check_out_replaceable(const fs::path& out) {
  check_output_folder(out, "prepare", {}, "summary.json");  // a store written before markers has summary.json
}

void write_store(const fs::path& out, const std::vector<PreparedSection>& sections,
                 const PrepareSummary& summary) {
  check_out_replaceable(out);
  AtomicPath dir(out);
  fs::create_directories(dir.temp());
  write_output_marker(dir.temp(), "prepare");
  for (const auto& s : sections) write_prepared_h5ad(dir.temp() / (s.id + ".h5ad"), s);
  write_text_file(dir.temp() / "summary.json", summary.to_json());
  dir.commit();
}

}  // namespace hiscmcl
