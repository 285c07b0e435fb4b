// `cv`: the paper's protocol end to end. Prepare the sections (once), embed them (cached), then for
// every fold train on the other sections, predict the held-out ones by retrieval, fit the ridge
// baseline on the same image features, and score both (spec §7). Folds: leave-one-section-out
// (loso, the paper's) or leave-one-patient-out (lopo). Finished folds are kept under
// OUT/folds/<fold>/ and reused, so an interrupted run resumes.
//
// OUT/metrics.json    {"sections": {id: {acg, heg, hvg, mse, mae, n_spots[, ari, nmi]}},
//                      "mean": {...}, "sd": {...}, "baseline": {"ridge": {"sections", "mean", "sd"}},
//                      "wall_seconds": n, "config": {...}, "split": "...", "n_genes": g}
// OUT/per_gene.csv    section,gene,symbol,pcc,p_value,mean,variance,ridge_pcc
// OUT/predictions/<id>.h5ad, OUT/heatmaps/<id>_<gene>.png, OUT/report.html
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <optional>

#include "data/prepare.h"
#include "model/run_config.h"

namespace hiscmcl {

struct CvOptions {
  std::filesystem::path manifest, data_root, config, out;
  std::string sections;        // comma list; empty = all
  std::string split = "loso";  // loso | lopo
  PanelChoice panel;           // empty: the manifest's `genes` file, else HVG
  bool allow_missing_genes = false;
  int epochs = 0;              // > 0 overrides the config
  int heatmap_genes = 4;
  std::string title;
  std::optional<RunConfig> run_config;  // used instead of reading `config` when set
};

struct CvResult {
  nlohmann::json metrics;
  std::filesystem::path report;
};

CvResult run_cross_validation(const CvOptions& opt);

// Prints the method-beside-baseline table of a metrics.json to a string (for the terminal).
std::string format_metrics_table(const nlohmann::json& metrics);

}  // namespace hiscmcl
