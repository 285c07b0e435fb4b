#include "pipeline/slide_prediction.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <algorithm>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "common/atomic_output.h"
#include "common/checksums.h"
#include "common/output_folder.h"
#include "common/error.h"
#include "common/file_names.h"
#include "common/log.h"
#include "encoders/section_features.h"
#include "eval/clustering.h"
#include "eval/gene_sets.h"
#include "eval/heatmap.h"
#include "io/h5ad.h"
#include "io/slide_image.h"
#include "io/spatial_image.h"
#include "io/spot_list.h"
#include "predict/predictor.h"
#include "predict/stacked_ridge.h"
#include "pipeline/slide_viewer.h"
#include "predict/tissue_grid.h"
#include "train/end_to_end.h"
#include "train/model_bundle.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// Panel indices of the genes asked for (InputError naming the model for one it lacks).
std::vector<int64_t> genes_to_draw(const SlidePredictionOptions& opt, const ModelBundle& bundle) {
  std::vector<int64_t> chosen;
  for (auto& g : opt.genes) {
    auto it = std::find(bundle.genes.begin(), bundle.genes.end(), g);
    if (it == bundle.genes.end()) throw InputError(opt.model.string(), "gene '" + g + "' is not in the model's panel");
    chosen.push_back(it - bundle.genes.begin());
  }
  return chosen;
}

std::vector<int64_t> highest_mean_genes(const Matrix& pred, int n) {
  std::vector<double> mean(size_t(pred.cols), 0.0);
  for (int64_t i = 0; i < pred.rows; ++i)
    for (int64_t g = 0; g < pred.cols; ++g) mean[size_t(g)] += pred(i, g);
  std::vector<int64_t> order(size_t(pred.cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return mean[size_t(a)] > mean[size_t(b)]; });
  order.resize(std::min<size_t>(order.size(), size_t(std::max(0, n))));
  return order;
}

std::string prediction_csv(const QuerySpots& q, const SpotPrediction& pred, const std::vector<std::string>& genes,
                           const std::vector<ObsColumn>& scores, const std::vector<int>& regions) {
  std::ostringstream csv;
  csv << "id,pixel_x,pixel_y";
  for (auto& g : genes) csv << "," << g;
  for (auto& c : scores) csv << "," << c.name;
  if (!regions.empty()) csv << ",region";
  for (auto& g : genes) csv << ",sd_" << g;
  csv << "\n" << std::setprecision(6);
  for (int64_t i = 0; i < pred.mean.rows; ++i) {
    csv << q.ids[size_t(i)] << "," << q.pixel_xy[size_t(i)][0] << "," << q.pixel_xy[size_t(i)][1];
    for (int64_t g = 0; g < pred.mean.cols; ++g) csv << "," << pred.mean(i, g);
    for (auto& c : scores) csv << "," << c.values[size_t(i)];
    if (!regions.empty()) csv << "," << regions[size_t(i)] + 1;
    for (int64_t g = 0; g < pred.sd.cols; ++g) csv << "," << pred.sd(i, g);
    csv << "\n";
  }
  return csv.str();
}

// Each marker set's score on the prediction (sets with no gene in the panel have none).
std::vector<ObsColumn> marker_set_scores(const ModelBundle& bundle, const Matrix& pred) {
  std::vector<ObsColumn> out;
  for (const auto& set : bundle.marker_sets)
    if (auto cols = panel_columns(bundle.genes, set.genes); !cols.empty())
      out.push_back({set.name + "_score", gene_set_score(pred, cols)});
  return out;
}

// The training spot size on this image: --spot-diameter-px; else scaled by the resolutions of
// the training images and this one (--um-per-px, else the slide's own); else as trained.
double spot_diameter(const SlidePredictionOptions& opt, const ModelBundle& bundle, std::optional<double> slide_um) {
  if (opt.spot_diameter_px > 0) return opt.spot_diameter_px;
  const double um = opt.um_per_px > 0 ? opt.um_per_px : slide_um.value_or(0);
  if (um > 0 && bundle.um_per_px > 0) {
    if (opt.um_per_px <= 0)
      spdlog::info("predict: {} records {:.4g} um/px (training images: {:.4g}); --um-per-px overrides",
                   opt.image.string(), um, bundle.um_per_px);
    return bundle.spot_diameter_px * bundle.um_per_px / um;
  }
  return bundle.spot_diameter_px;
}

// What this prediction ran under, written beside it: the model, the settings, the predictor.
std::string predict_settings_json(const SlidePredictionOptions& opt, const PredictConfig& pc, const Predictor& p) {
  nlohmann::ordered_json j;
  j["model"] = fs::absolute(opt.model).lexically_normal().string();
  j["image"] = fs::absolute(opt.image).lexically_normal().string();
  j["set"] = opt.settings;
  j["predictor"] = p.describe();
  RunConfig c;
  c.predict = pc;
  j["predict"] = to_json(c)["predict"];
  return j.dump(1) + "\n";
}

}  // namespace

SlidePredictionSummary predict_slide(const SlidePredictionOptions& opt) {
  if (opt.spots.empty() && !opt.grid) throw InputError(opt.image.string(), "give --spots FILE or --grid");
  OutputFolder out(opt.out, "predict", {opt.model, opt.image, opt.spots}, "prediction.h5ad");
  if (!verify_checksum_list(opt.model))
    spdlog::warn("{}: no {} (a model folder written before checksum lists): its files are not verified",
                 opt.model.string(), kChecksumFile);
  ModelBundle bundle = load_model_bundle(opt.model);
  // The model's prediction settings, with the ones asked for on the command line.
  const PredictConfig pc = with_predict_overrides(bundle.config, opt.settings, opt.model.string()).predict;
  const std::optional<StackedRidge> ridge =
      pc.predictor == PredictorKind::stacked ? load_stacked_ridge(opt.model) : std::nullopt;
  std::unique_ptr<Predictor> predictor = make_predictor(bundle, pc, ridge, opt.model.string());
  std::vector<int64_t> chosen = genes_to_draw(opt, bundle);
  auto image = SlideImage::open(opt.image);
  const double diam = spot_diameter(opt, bundle, image->um_per_px());
  QuerySpots q = opt.grid ? tissue_grid(*image, diam, opt.grid_pitch * diam) : read_query_spots(opt.spots);
  if (q.ids.empty()) throw InputError(opt.image.string(), "no tissue found for the spot grid");
  spdlog::info("predict: {} spots ({}), spot diameter {:.1f} px", q.ids.size(), q.format, diam);

  auto encoder = bundle_encoder(bundle);  // an end-to-end model brings its trained trunk
  SectionFeatures f = embed_spots(*image, opt.image.string(), q.pixel_xy, diam, bundle.config.encoder, *encoder);
  // A frozen model read its training sections' features so; an end-to-end trunk's are its own.
  if (bundle.config.train.mode == TrainMode::frozen) apply_feature_norm(f, bundle.config.encoder.feature_norm, opt.image.string());
  spdlog::info("predict: {}", predictor->describe());
  SpotPrediction predicted = predictor->predict(q.pixel_xy, f);
  const Matrix& pred = predicted.mean;
  const std::vector<ObsColumn> scores = marker_set_scores(bundle, pred);
  const bool draw_markers = chosen.empty();  // no gene named: the model's markers and their scores
  if (draw_markers) chosen = panel_columns(bundle.genes, bundle.marker_genes());
  if (chosen.empty()) chosen = highest_mean_genes(pred, opt.heatmaps);
  const int k = opt.regions >= 0 ? opt.regions : pc.regions;
  const std::vector<int> regions = k > 0 ? cluster_regions(pred, k) : std::vector<int>();
  const std::vector<std::string> names = region_names(regions);

  PreparedSection p;
  p.id = opt.image.stem().string();
  p.genes = bundle.genes;
  p.spot_ids = q.ids;
  p.expression = pred;
  p.array_xy = q.array_xy;
  p.pixel_xy = q.pixel_xy;
  p.image.image_path = fs::absolute(opt.image).string();
  p.image.spot_diameter_px = diam;
  p.image.width = image->width();
  p.image.height = image->height();
  p.normalization = "prediction";
  p.spread = predicted.sd;
  p.obs_columns = scores;
  if (!regions.empty()) p.obs_categoricals = {{"region", names, regions}};
  p.spatial_image = spatial_image_of(*image);  // uns/spatial: scanpy's sc.pl.spatial draws over it
  write_prepared_h5ad(out.temp() / "prediction.h5ad", p);
  write_text_file(out.temp() / "prediction.csv", prediction_csv(q, predicted, bundle.genes, scores, regions));
  write_text_file(out.temp() / "predict_settings.json", predict_settings_json(opt, pc, *predictor));

  HeatmapBackground bg = heatmap_background(*image);
  std::vector<cv::Point2d> pts = to_points(q.pixel_xy);
  for (int64_t g : chosen) {
    std::vector<float> v(size_t(pred.rows));
    for (int64_t i = 0; i < pred.rows; ++i) v[size_t(i)] = pred(i, g);
    const std::string& name = bundle.genes[size_t(g)];
    write_heatmap_png(out.temp() / ("heatmap_" + file_safe_name(name) + ".png"), bg.rgb, bg.downsample, pts, v, diam,
                      p.id + "  " + name + "  (predicted)");
  }
  size_t drawn = chosen.size();
  std::vector<std::string> score_names;
  for (const auto& c : scores) {
    score_names.push_back(c.name);
    if (!draw_markers) continue;
    write_heatmap_png(out.temp() / ("heatmap_" + file_safe_name(c.name) + ".png"), bg.rgb, bg.downsample, pts,
                      c.values, diam, p.id + "  " + c.name + "  (predicted, mean z)");
    ++drawn;
  }
  if (!regions.empty())
    write_region_map_png(out.temp() / "regions.png", bg.rgb, bg.downsample, pts, {{"", regions}}, diam,
                         p.id + "  " + std::to_string(names.size()) +
                             " tissue regions (k-means of the predicted expression)",
                         names);
  const bool viewer = write_prediction_views(out.temp(), "viewer", opt.image, viewer_data_of(p), true);
  out.commit();
  // A slide that cannot be tiled fails the command, but what is complete is kept (and said so).
  if (!viewer)
    throw InputError(opt.image.string(), "the slide could not be tiled for the viewer; the prediction in " +
                                             opt.out.string() + " is complete without viewer/");
  return {int64_t(q.ids.size()), q.format, diam, drawn, score_names, int(names.size())};
}

}  // namespace hiscmcl
