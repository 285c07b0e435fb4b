// One fold of `cv`: train on its training sections (or reuse the fold's model when it was made from
// the same inputs), fit the ridge baselines on the same image features, predict and score the
// held-out sections, and write OUT/folds/<fold>/{model/, result.json}, OUT/predictions/<id>.h5ad and
// OUT/heatmaps/. Keys: the model's covers the store, the training sections and every training and
// encoder setting; the result's covers the model key, the prediction settings and the outputs
// asked for and the version of the results. A changed predict.k thus predicts again with the same model.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "encoders/section_features.h"
#include "io/manifest.h"
#include "pipeline/cv_folds.h"
#include "predict/baseline_features.h"

namespace hiscmcl {

// What every fold of one run shares.
struct CvContext {
  const RunConfig& cfg;
  const std::vector<PreparedSection>& sections;
  const std::vector<SectionFeatures>& features;
  const std::vector<std::string>& symbols;  // display names of the panel genes
  const std::vector<MarkerSet>& markers;    // scored one by one and as gene-set scores
  std::string store_key;
  std::filesystem::path out;
  int heatmap_genes = 4;
};

// The ridge baselines every fold fits beside the model (METHOD.md §8.11), each with alpha by
// leave-one-section-out over the training sections. "ridge" reads the model's full inputs (crops and
// context means), the one to beat; "ridge_crops" only the spot and neighbourhood crops.
struct BaselineSpec {
  const char* key;    // in metrics.json "baseline", per-section results, per_gene.csv (<key>_pcc)
  const char* label;  // in the report and the console table
  BaselineInputs inputs;
};
const std::vector<BaselineSpec>& ridge_baselines();
// Under the stacked predictor each section's result also scores retrieval alone, the same models'
// prediction before the blend, under this key (metrics.json "components").
inline constexpr const char* kRetrievalAloneKey = "retrieval";

struct FoldOutcome {
  std::string name, key, model_key;
  // {"sections": {id: {"method", <baseline key>..., ["retrieval",] "pcc", "<key>_pcc"...}}, "<key>_alpha"...,
  //  "train_seconds", "loss"}
  nlohmann::json result;
};

FoldOutcome run_fold(const CvContext& ctx, const Fold& fold);

}  // namespace hiscmcl
