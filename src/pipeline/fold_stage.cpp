#include "pipeline/fold_stage.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <optional>
#include <sstream>
#include <utility>

#include "common/atomic_output.h"
#include "common/checksums.h"
#include "common/error.h"
#include "pipeline/model_folder.h"
#include "common/crash_point.h"
#include "common/file_names.h"
#include "common/log.h"
#include "common/stage_key.h"
#include "eval/clustering.h"
#include "eval/gene_sets.h"
#include "eval/heatmap.h"
#include "eval/metrics.h"
#include "io/h5ad.h"
#include "io/spatial_image.h"
#include "io/slide_image.h"
#include "pipeline/json_numbers.h"
#include "pipeline/slide_viewer.h"
#include "pipeline/stage_record.h"
#include "predict/baseline_features.h"
#include "predict/gene_blend.h"
#include "predict/predictor.h"
#include "predict/retrieval_predictor.h"
#include "predict/stacked_predictor.h"
#include "predict/stacked_ridge.h"
#include "train/end_to_end.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

json metrics_json(const SectionMetrics& m) {
  return {{"acg", m.acg}, {"heg", m.heg}, {"hvg", m.hvg}, {"mse", m.mse}, {"mae", m.mae}, {"n_spots", m.n_spots}};
}

std::vector<float> column(const Matrix& m, int64_t c) {
  std::vector<float> v(size_t(m.rows));
  for (int64_t r = 0; r < m.rows; ++r) v[size_t(r)] = m(r, c);
  return v;
}

json section_ids(const CvContext& ctx, const std::vector<size_t>& idx) {
  json ids = json::array();
  for (size_t i : idx) ids.push_back(ctx.sections[i].id);
  return ids;
}

json model_inputs(const CvContext& ctx, const Fold& fold) {
  return {{"store", ctx.store_key}, {"train_sections", section_ids(ctx, fold.train)},
          {"settings", train_settings(ctx.cfg)}};
}

// Raised whenever a fold's result gains or changes a field, so a newer binary never reuses a result
// an older one wrote. 2: two ridge baselines; 3: regions, clusters' ARI/NMI; 4: half-decade ridge
// alphas; 5: the fair ridge from the model folder (ridge.h5); 6: retrieval alone beside a blend.
constexpr int kFoldResultVersion = 6;

json result_inputs(const CvContext& ctx, const Fold& fold, const std::string& model_key) {
  return {{"model", model_key},
          {"test_sections", section_ids(ctx, fold.test)},
          {"predict", predict_settings(ctx.cfg)},
          {"heatmap_genes", ctx.heatmap_genes},
          {"result_version", kFoldResultVersion}};
}

struct FoldModel {
  ModelBundle bundle;
  json extra;  // {"loss": [[epoch, loss], ...], "train_seconds": s}
  std::optional<StackedRidge> stack;  // the model folder's ridge.h5
};

TrainingSections training_sections(const CvContext& ctx, const Fold& fold) {
  TrainingSections t;
  for (size_t i : fold.train) {
    t.sections.push_back(&ctx.sections[i]);
    t.features.push_back(&ctx.features[i]);
  }
  return t;
}

// The fold's model: reused when its stage record matches, else trained and saved with its record.
FoldModel train_or_reuse(const CvContext& ctx, const Fold& fold, const json& inputs, const fs::path& fdir) {
  const fs::path model_dir = fdir / "model";
  const StageRecord record = read_stage_record(model_dir / "stage.json");
  auto why = stale_reason(record, inputs);
  if (!why) {
    try {
      verify_checksum_list(model_dir);
    } catch (const InputError& e) {
      why = std::string("its saved model is damaged: ") + e.what();
    }
  }
  if (!why) {
    spdlog::info("cv: fold {}: reusing its trained model", fold.name);
    return FoldModel{load_model_bundle(model_dir), record.extra, load_stacked_ridge(model_dir)};
  }
  spdlog::info("cv: fold {}: training ({})", fold.name, *why);
  const TrainingSections train = training_sections(ctx, fold);
  std::vector<SectionFeatures> train_feats;
  for (size_t i : fold.train) train_feats.push_back(ctx.features[i]);
  TrainResult tr = ctx.cfg.train.mode == TrainMode::end_to_end ? train_end_to_end(train.sections, ctx.cfg)
                                                               : train_frozen(train.sections, train_feats, ctx.cfg);
  FoldModel m{std::move(tr.bundle), {{"loss", json::array()}, {"train_seconds", tr.seconds}}, std::nullopt};
  m.bundle.marker_sets = ctx.markers;
  for (auto& e : tr.log) m.extra["loss"].push_back({e.epoch, json_number(e.loss)});
  if (ctx.cfg.train.mode == TrainMode::frozen) m.stack = fit_stacked_ridge(m.bundle, train, ctx.cfg);
  AtomicPath out(model_dir);
  write_model_folder(out.temp(), m.bundle, m.stack, tr.log, [&](const fs::path& dir) {
    write_stage_record(dir / "stage.json", inputs, m.extra);  // inside: model and key appear together
  });
  crash_point("train.model_uncommitted");
  out.commit();
  set_bundle_dir(m.bundle, model_dir);  // predicting next loads keys.ivf rather than building it again
  return m;
}


// One baseline's predictions for a held-out section.
struct BaselinePrediction {
  const BaselineSpec* spec;
  Matrix pred;
};

// One predicted-beside-measured heatmap; returns its {"gene", "path"} entry.
json write_pair(const CvContext& ctx, const PreparedSection& s, const HeatmapBackground& bg, const std::string& name,
                const std::vector<float>& pred, const std::vector<float>& truth, double r) {
  std::string rel = "heatmaps/" + file_safe_name(s.id + "_" + name) + ".png";
  std::ostringstream title;
  title << s.id << "  " << name << "  (r = " << std::fixed << std::setprecision(3) << r << ")";
  write_heatmap_pair_png(ctx.out / rel, bg.rgb, bg.downsample, to_points(s.pixel_xy), pred, truth,
                         s.image.spot_diameter_px, title.str());
  return {{"gene", name}, {"path", rel}};
}

// Heatmaps of the best-predicted genes, then of every marker gene and gene-set score.
json write_heatmaps(const CvContext& ctx, const PreparedSection& s, const HeatmapBackground& bg, const SectionMetrics& m,
                    const Matrix& pred, const Matrix& truth, const json& set_scores) {
  std::vector<int64_t> order;
  for (int64_t g = 0; g < int64_t(m.pcc.size()); ++g)
    if (std::isfinite(m.pcc[size_t(g)])) order.push_back(g);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return m.pcc[size_t(a)] > m.pcc[size_t(b)]; });
  order.resize(std::min<size_t>(order.size(), size_t(std::max(0, ctx.heatmap_genes))));
  for (const auto& set : ctx.markers)
    for (int64_t g : panel_columns(s.genes, set.genes))
      if (std::find(order.begin(), order.end(), g) == order.end()) order.push_back(g);
  json out = json::array();
  for (int64_t g : order)
    out.push_back(write_pair(ctx, s, bg, ctx.symbols[size_t(g)], column(pred, g), column(truth, g), m.pcc[size_t(g)]));
  for (const auto& set : ctx.markers) {
    const auto cols = panel_columns(s.genes, set.genes);
    if (cols.empty()) continue;
    out.push_back(write_pair(ctx, s, bg, set.name + " score", gene_set_score(pred, cols), gene_set_score(truth, cols),
                             number_or_nan(set_scores[set.name]["pcc"])));
  }
  return out;
}

double pearson_of(const std::vector<float>& a, const std::vector<float>& b) {
  return pearson(a.data(), b.data(), int64_t(a.size()));
}

// Each marker set's score (mean z over its genes) on the prediction, the baselines' and the truth.
json gene_set_results(const CvContext& ctx, const PreparedSection& s, const Matrix& pred,
                      const std::vector<BaselinePrediction>& baselines, const Matrix& truth) {
  json out = json::object();
  for (const auto& set : ctx.markers) {
    const auto cols = panel_columns(s.genes, set.genes);
    if (cols.empty()) continue;
    const auto t = gene_set_score(truth, cols);
    json& e = out[set.name];
    e = {{"pcc", json_number(pearson_of(gene_set_score(pred, cols), t))}, {"n_genes", cols.size()}};
    for (const auto& b : baselines)
      e[std::string(b.spec->key) + "_pcc"] = json_number(pearson_of(gene_set_score(b.pred, cols), t));
  }
  return out;
}

// ARI/NMI of k-means on `pred` against the section's region labels and published clusters
// (METHOD.md §8.10), into `metrics` (ari, nmi, ari_clusters, nmi_clusters).
void put_cluster_scores(const PreparedSection& s, const Matrix& pred, json& metrics) {
  if (!s.labels.empty()) {
    ClusterScore c = cluster_and_score(pred, s.labels);
    metrics["ari"] = c.ari;
    metrics["nmi"] = c.nmi;
  }
  if (!s.clusters.empty()) {
    ClusterScore c = cluster_and_score(pred, s.clusters);
    metrics["ari_clusters"] = c.ari;
    metrics["nmi_clusters"] = c.nmi;
  }
}

// Tissue regions (predict.regions k-means regions) of the prediction and of the measured
// expression: obs "region" and "region_measured" of the prediction's h5ad, and one map with both,
// the prediction's regions renumbered to match the measured ones so a colour means one region.
// Returns the map's {"gene", "path"} entry (none when regions are off).
json write_regions(const CvContext& ctx, const PreparedSection& s, const HeatmapBackground& bg, const Matrix& pred,
                   const Matrix& truth, PreparedSection& prediction) {
  const int k = ctx.cfg.predict.regions;
  if (k == 0 || s.n_spots() == 0) return nullptr;
  const std::vector<int> measured = cluster_regions(truth, k);
  const std::vector<int> predicted = align_labels(cluster_regions(pred, k), measured);
  const std::vector<std::string> names = region_names(measured, predicted);
  const size_t n = names.size();
  prediction.obs_categoricals = {{"region", names, predicted}, {"region_measured", names, measured}};
  std::ostringstream title;
  title << s.id << "  " << n << " regions (k-means), ARI between the two = " << std::fixed << std::setprecision(3)
        << adjusted_rand_index(predicted, measured);
  const std::string rel = "heatmaps/" + file_safe_name(s.id + "_regions") + ".png";
  write_region_map_png(ctx.out / rel, bg.rgb, bg.downsample, to_points(s.pixel_xy),
                       {{"of the prediction", predicted}, {"of the measured expression", measured}},
                       s.image.spot_diameter_px, title.str(), names);
  return {{"gene", "regions"}, {"path", rel}};
}

// Everything one held-out section contributes to the outputs. `retrieval_alone`: under the
// stacked predictor, retrieval's own prediction before the blend, scored under kRetrievalAloneKey so
// a report shows what the learned model gives without the ridge half (none otherwise).
json evaluate_held_out(const CvContext& ctx, const PreparedSection& s, const SpotPrediction& predicted,
                       const std::vector<BaselinePrediction>& baselines, const std::optional<Matrix>& retrieval_alone) {
  const Matrix& pred = predicted.mean;
  const Matrix truth = eval_expression(s, ctx.cfg.data.eval_norm);
  SectionMetrics m = evaluate_section(pred, truth);
  json j = {{"method", metrics_json(m)}, {"pcc", json::array()}, {"p_value", json::array()},
            {"truth_mean", m.truth_mean}, {"truth_var", m.truth_var},
            // does the predicted sd rank the errors? per-gene Spearman(sd, |error|), mean
            {"uncertainty_spearman", json_number(uncertainty_rank_score(pred, predicted.sd, truth))}};
  for (size_t g = 0; g < m.pcc.size(); ++g) {
    j["pcc"].push_back(json_number(m.pcc[g]));
    j["p_value"].push_back(json_number(m.p_value[g]));
  }
  put_cluster_scores(s, pred, j["method"]);
  for (const auto& b : baselines) {
    SectionMetrics r = evaluate_section(b.pred, truth);
    json& rj = j[b.spec->key] = metrics_json(r);
    json& pcc = j[std::string(b.spec->key) + "_pcc"] = json::array();
    for (double v : r.pcc) pcc.push_back(json_number(v));
    put_cluster_scores(s, b.pred, rj);
  }
  if (retrieval_alone) j[kRetrievalAloneKey] = metrics_json(evaluate_section(*retrieval_alone, truth));
  PreparedSection p = s;  // the prediction as AnnData
  p.expression = pred;
  p.spread = predicted.sd;
  p.counts = Matrix();
  p.normalization = "prediction";
  // the slide's thumbnail, read once for every map of the section (none when no map is drawn)
  const bool maps = ctx.cfg.predict.regions > 0 || ctx.heatmap_genes > 0 || !ctx.markers.empty();
  const HeatmapBackground bg = maps ? heatmap_background(*SlideImage::open(s.image.image_path)) : HeatmapBackground{};
  const json regions = write_regions(ctx, s, bg, pred, truth, p);
  p.spatial_image = spatial_image_of(*SlideImage::open(s.image.image_path));  // uns/spatial for scanpy
  write_prepared_h5ad(ctx.out / "predictions" / (s.id + ".h5ad"), p);
  {  // viewers/<id>/: the prediction over the slide, the measured value beside it
    ViewerData view = viewer_data_of(p, truth);
    if (ctx.symbols.size() == view.genes.size()) view.genes = ctx.symbols;
    const std::string name = file_safe_name(s.id);
    if (write_prediction_views(ctx.out / "viewers", name, s.image.image_path, view, false))
      j["viewer"] = "viewers/" + name + "/index.html";
  }
  j["gene_sets"] = gene_set_results(ctx, s, pred, baselines, truth);
  j["heatmaps"] = maps ? write_heatmaps(ctx, s, bg, m, pred, truth, j["gene_sets"]) : json::array();
  if (!regions.is_null()) j["heatmaps"].push_back(regions);
  return j;
}

// What the fold's model sees of a held-out section: the cached features, or for an end-to-end
// model its own trained trunk's (the ridge baselines keep the configured encoder's features).
const SectionFeatures& query_features(const CvContext& ctx, const ModelBundle& bundle, size_t i,
                                      std::optional<SectionFeatures>& own) {
  if (ctx.cfg.train.mode != TrainMode::end_to_end) return ctx.features[i];
  const PreparedSection& s = ctx.sections[i];
  auto trunk = bundle_encoder(bundle);
  auto image = SlideImage::open(s.image.image_path);
  own = embed_spots(*image, s.image.image_path, s.pixel_xy, s.image.spot_diameter_px, ctx.cfg.encoder, *trunk);
  return *own;
}

// The fair ridge as the model folder carries it, or fitted again when that was fitted under other
// prediction settings (a model from before ridge.h5, another ridge_alpha or stack weight).
const StackedRidge& fair_ridge(const CvContext& ctx, const Fold& fold, FoldModel& model) {
  if (model.stack && model.stack->predict_settings == predict_settings(ctx.cfg).dump()) return *model.stack;
  model.stack = fit_stacked_ridge(model.bundle, training_sections(ctx, fold), ctx.cfg);
  return *model.stack;
}

// Every baseline of ridge_baselines(), in order: the fair ridge, then the crops-only ridge.
std::vector<RidgeModel> fold_ridges(const CvContext& ctx, const Fold& fold, FoldModel& model) {
  std::vector<RidgeModel> out;
  for (const auto& b : ridge_baselines())
    out.push_back(b.inputs == BaselineInputs::crops_and_context
                      ? fair_ridge(ctx, fold, model).ridge
                      : fit_section_ridge(section_ridge_data(training_sections(ctx, fold), b.inputs, ctx.cfg),
                                          ctx.cfg.predict.ridge_alpha));
  return out;
}

// The fold's predictor under the run's prediction settings (not the ones the model was trained
// under: a cv rerun with another predict.k reuses the models).
std::unique_ptr<Predictor> fold_predictor(const CvContext& ctx, const Fold& fold, FoldModel& model) {
  std::optional<StackedRidge> ridge;
  if (ctx.cfg.predict.predictor == PredictorKind::stacked) ridge = fair_ridge(ctx, fold, model);
  return make_predictor(model.bundle, ctx.cfg.predict, ridge, "cv: fold " + fold.name);
}

}  // namespace

const std::vector<BaselineSpec>& ridge_baselines() {
  static const std::vector<BaselineSpec> specs = {
      {"ridge", "ridge on crops + context means", BaselineInputs::crops_and_context},
      {"ridge_crops", "ridge on spot + neighbourhood crops", BaselineInputs::crops},
  };
  return specs;
}

FoldOutcome run_fold(const CvContext& ctx, const Fold& fold) {
  const fs::path fdir = ctx.out / "folds" / fold.name;
  const json minputs = model_inputs(ctx, fold);
  FoldOutcome o{fold.name, "", stage_key(minputs), {}};
  const json rinputs = result_inputs(ctx, fold, o.model_key);
  o.key = stage_key(rinputs);
  const StageRecord done = read_stage_record(fdir / "result.json");
  const auto why = stale_reason(done, rinputs);
  if (!why) {
    spdlog::info("cv: fold {}: reusing its result", fold.name);
    o.result = done.extra;
    return o;
  }
  FoldModel model = train_or_reuse(ctx, fold, minputs, fdir);
  o.result = {{"sections", json::object()}};
  o.result.update(model.extra);
  const std::vector<RidgeModel> ridges = fold_ridges(ctx, fold, model);
  for (size_t b = 0; b < ridges.size(); ++b) o.result[std::string(ridge_baselines()[b].key) + "_alpha"] = ridges[b].alpha;
  std::unique_ptr<Predictor> predictor = fold_predictor(ctx, fold, model);
  auto* stacked = dynamic_cast<StackedPredictor*>(predictor.get());  // cv also scores retrieval alone
  if (stacked) {
    o.result["blend_weight"] = stacked->blend().mean_weight();
    spdlog::info("cv: fold {}: retrieval's mean weight in the per-gene blend {:.2f}", fold.name,
                 stacked->blend().mean_weight());
  }
  for (size_t i : fold.test) {
    const auto& s = ctx.sections[i];
    std::optional<SectionFeatures> own;
    const SectionFeatures& features = query_features(ctx, model.bundle, i, own);
    SpotPrediction pred;
    std::optional<Matrix> retrieval_alone;
    if (stacked) {
      StackedPredictor::Parts parts = stacked->predict_parts(s.pixel_xy, features);
      pred = {std::move(parts.blended), std::move(parts.retrieval.sd)};
      retrieval_alone = std::move(parts.retrieval.mean);
    } else {
      pred = predictor->predict(s.pixel_xy, features);
    }
    std::vector<BaselinePrediction> baselines;
    for (size_t b = 0; b < ridges.size(); ++b) {
      const BaselineSpec& spec = ridge_baselines()[b];
      baselines.push_back({&spec, predict_ridge(ridges[b], baseline_features(s.pixel_xy, ctx.features[i], spec.inputs,
                                                                              context_sizes(ctx.cfg.model)))});
    }
    o.result["sections"][s.id] = evaluate_held_out(ctx, s, pred, baselines, retrieval_alone);
  }
  o.result = json_clean(o.result);
  crash_point("fold.result_unwritten");
  write_stage_record(fdir / "result.json", rinputs, o.result);  // last: marks the fold finished
  return o;
}

}  // namespace hiscmcl
