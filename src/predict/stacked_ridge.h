// The ridge half of predict.predictor = "stacked" (METHOD.md §8.11, §8.13): the fair ridge (crops
// plus context means) fitted on a model's training sections where the model is made, kept in the
// model folder as ridge.h5, so that `predict` on a new slide blends exactly as `cv` does.
//   fit_section_ridge: alpha = predict.ridge_alpha when > 0, else by leave-one-section-out over the
//     training sections (kRidgeAlphas), else (one section) 100.
//   fit_section_blend: per-gene weights by inner leave-one-section-out; retrieval's half leaves only
//     the section's keys out (the model saw it), so it favours retrieval (METHOD.md §8.13).
//   stack_prediction: retrieval's prediction blended with the ridge's on the same spots.
// A ridge.h5 records the prediction settings it was fitted under; one fitted under others is not
// reused (cv refits), so a result never mixes two configs.
#pragma once
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "config/run_config.h"
#include "encoders/section_features.h"
#include "io/section.h"
#include "predict/baseline_features.h"
#include "predict/gene_blend.h"
#include "predict/ridge.h"

namespace hiscmcl {

struct ModelBundle;

// Half decades: on her2st the context ridge is best between 1e3 and 1e4, so a decade grid can
// leave the baseline weaker than it is.
extern const std::vector<double> kRidgeAlphas;

// A model's training sections with their cached features, in the bundle's key order.
struct TrainingSections {
  std::vector<const PreparedSection*> sections;
  std::vector<const SectionFeatures*> features;
};

// What a ridge is fitted to: each training section's design matrix and targets (the eval_norm
// expression: what retrieval predicts and cv scores). Context sizes are the model's; with
// train.permute_pairs (the negative control) each section's targets are shuffled over its spots,
// so the ridge, like the model, sees images paired with other spots' expression.
struct SectionRidgeData {
  std::vector<Matrix> designs, targets;
};

ContextSizes context_sizes(const ModelConfig& m);
Matrix eval_expression(const PreparedSection& s, Normalization eval_norm);
SectionRidgeData section_ridge_data(const TrainingSections& train, BaselineInputs inputs, const RunConfig& cfg);
RidgeModel fit_section_ridge(const SectionRidgeData& data, double fixed_alpha);
GeneBlend fit_section_blend(const ModelBundle& bundle, const PredictConfig& pc, const TrainingSections& train,
                            const SectionRidgeData& data, double alpha);

struct StackedRidge {
  RidgeModel ridge;                // the fair ridge (BaselineInputs::crops_and_context)
  ContextSizes context;
  std::vector<double> blend;       // retrieval's per-gene weight; empty: not fitted (stack_weight >= 0)
  std::string predict_settings;    // predict_settings() of the config it was fitted under (JSON)
};

// The fair ridge, and the per-gene blend when cfg asks for a fitted one (stacked, stack_weight -1).
StackedRidge fit_stacked_ridge(const ModelBundle& bundle, const TrainingSections& train, const RunConfig& cfg);
// The blend to apply under `predict`: the fixed weight, else the fitted one; nullopt when the
// fitted one is asked for and `s` has none (fitted under other settings).
std::optional<GeneBlend> stack_blend(const StackedRidge& s, const PredictConfig& predict, size_t n_genes);
Matrix stack_prediction(const StackedRidge& s, const GeneBlend& blend, const Matrix& retrieval,
                        const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features);

void save_stacked_ridge(const std::filesystem::path& model_dir, const StackedRidge& s);  // model_dir/ridge.h5
// nullopt when model_dir has no ridge.h5 (a model from before it was written); InputError when bad.
std::optional<StackedRidge> load_stacked_ridge(const std::filesystem::path& model_dir);

}  // namespace hiscmcl
