// `predict` as a library call: expression of every spot of a new H&E image from a trained model,
// at given spots or on a grid laid over the detected tissue. Writes, atomically as one folder:
//   OUT/prediction.h5ad  X = predicted expression, layers["sd"] its per-spot uncertainty
//                        (the Predictor's SpotPrediction), obs ids, coordinates and
//                        <set>_score per marker set of the model, the categorical "region"
//                        (k-means of the prediction), obsm["spatial"]
//   OUT/prediction.csv   id,pixel_x,pixel_y,<genes...>,<set>_score...,region,sd_<genes...>
//   OUT/predict_settings.json  the model, the predict settings and the predictor it ran under
//   OUT/regions.png      the tissue regions over the H&E
//   OUT/heatmap_<gene>.png        the chosen genes over the H&E
//   OUT/heatmap_<set>_score.png   each marker set's score (mean z over its genes), drawn with the
//                                 model's markers (that is, when no gene is named)
// Everything that can be checked before the prediction is (model, genes to draw, spot table).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hiscmcl {

struct SlidePredictionOptions {
  std::filesystem::path model, image, spots, out;
  bool grid = false;            // no spot table: a grid over the tissue
  double spot_diameter_px = 0;  // > 0: this image's spot size; else scaled from um_per_px or the model's
  double um_per_px = 0;
  double grid_pitch = 2.0;      // in spot diameters
  std::vector<std::string> genes;  // to draw; empty: the model's markers, else the `heatmaps` highest-mean genes
  int heatmaps = 4;
  int regions = -1;  // k-means regions of the prediction; -1: the model's predict.regions, 0: none
  // "predict.key=value" settings over the model's own (`--set`); train-time ones are refused.
  std::vector<std::string> settings;
};

struct SlidePredictionSummary {
  int64_t n_spots = 0;
  std::string spot_format;  // what the spot table was read as, or "grid"
  double spot_diameter_px = 0;
  size_t heatmaps = 0;
  std::vector<std::string> scores;  // the gene-set scores written (obs column names)
  int regions = 0;                   // regions found (0: none asked for)
};

SlidePredictionSummary predict_slide(const SlidePredictionOptions& opt);

}  // namespace hiscmcl
