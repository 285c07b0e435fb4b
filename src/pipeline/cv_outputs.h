// What `cv` leaves for a person: the folds' results gathered into OUT/metrics.json,
// OUT/per_gene.csv and OUT/report.html. The run key (of every fold's key and the report settings)
// is stored in metrics.json: when it matches, nothing is rewritten.
//
// OUT/metrics.json  {"sections": {id: {acg, heg, hvg, mse, mae, n_spots[, ari, nmi]}},
//                    "mean": {...}, "sd": {...},
//                    "baseline": {<key>: {"label", "sections", "mean", "sd", "alpha": {fold: a}}}
//                      for each of ridge_baselines() (ridge: crops + context, ridge_crops),
//                    "components": {"retrieval": {"label", "sections", "mean", "sd"}} under the
//                      stacked predictor: retrieval alone, the same models before the blend,
//                    "folds": {name: {"key", "model_key"}}, "run_key": k,
//                    "wall_seconds": n, "config": {...}, "split": "...", "n_genes": g}
// OUT/per_gene.csv  section,gene,symbol,pcc,p_value,mean,variance,ridge_pcc,ridge_crops_pcc
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "pipeline/cv_folds.h"
#include "pipeline/fold_stage.h"

namespace hiscmcl {

struct CvReportInfo {
  std::string title, dataset;
  CvSplit split = CvSplit::loso;
  double wall_seconds = 0;
};

// Returns metrics.json's content (as written now, or as kept when the run key matched).
nlohmann::json write_cv_outputs(const CvContext& ctx, const std::vector<FoldOutcome>& folds,
                                const CvReportInfo& info);

// The method-beside-baseline table of a metrics.json, for the terminal.
std::string format_metrics_table(const nlohmann::json& metrics);

}  // namespace hiscmcl
