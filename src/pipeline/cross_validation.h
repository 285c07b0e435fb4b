// `cv`: the paper's protocol end to end, as stages (METHOD.md §8.7–8.11):
//   prepare (or reuse) the store -> embed every section (cached) -> for each fold: train (or reuse),
//   ridge baseline, predict and score the held-out sections -> metrics.json, per_gene.csv, report.
// Each stage's output carries the key of its inputs and is reused only when that key matches, so a
// rerun after any change recomputes exactly what the change touches (and says why), an unchanged
// rerun rewrites nothing, and an interrupted run resumes from the finished stages. Temporaries that
// a killed run left under OUT are removed at the start.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "pipeline/prepare.h"
#include "pipeline/cv_folds.h"

namespace hiscmcl {

struct CvOptions {
  std::filesystem::path manifest, data_root, config, out;
  std::vector<std::string> sections;  // none = all
  CvSplit split = CvSplit::loso;
  PanelChoice panel;           // empty: the manifest's `genes` file, else HVG
  std::vector<std::string> marker_sets, add_genes;  // markers added to the panel (pipeline/prepare.h)
  bool allow_missing_genes = false;
  bool allow_missing_spots = false;  // as well as the manifest sections that say so
  int heatmap_genes = 4;
  std::string title;
  std::optional<RunConfig> run_config;  // used instead of reading `config` when set
};

struct CvResult {
  nlohmann::json metrics;
  std::filesystem::path report;
};

CvResult run_cross_validation(const CvOptions& opt);

}  // namespace hiscmcl
