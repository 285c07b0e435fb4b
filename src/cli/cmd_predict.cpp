// `hiscmcl predict`: expression of every spot of a new H&E image, from a trained model.
#include "cli/command.h"
#include "common/log.h"
#include "pipeline/slide_prediction.h"

namespace hiscmcl::cli {
namespace {

struct Options {
  SlidePredictionOptions p;
  std::string model, image, spots, out;
};

CommandRegistrar reg(
    "predict", "Predict spot expression for an H&E image (given spots, or a grid over the tissue)",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      cmd.add_option("--model", o->model, "Model folder written by `train` (or cv's folds/<id>/model)")->required();
      cmd.add_option("--image", o->image, "H&E image (JPEG/PNG/TIFF or a whole-slide file)")->required();
      auto spots = cmd.add_option("--spots", o->spots,
                                  "Spot table: legacy ST (x y ... pixel_x pixel_y selected), Visium "
                                  "positions, or CSV id,pixel_x,pixel_y");
      auto grid = cmd.add_flag("--grid", o->p.grid, "No ST: find the tissue and lay a spot grid over it");
      spots->excludes(grid);
      cmd.add_option("--out", o->out, "Output folder")->required();
      cmd.add_option("--spot-diameter-px", o->p.spot_diameter_px, "Spot diameter in this image's pixels");
      cmd.add_option("--um-per-px", o->p.um_per_px, "This image's resolution (scales the training spot size; default: the slide's own, when it records one)");
      cmd.add_option("--grid-pitch", o->p.grid_pitch, "Grid pitch in spot diameters (default 2, the ST array)");
      cmd.add_option("--genes", o->p.genes, "Comma list of genes to draw (default: the model's markers and their set scores, else the 4 highest mean)")
          ->delimiter(',');
      cmd.add_option("--heatmaps", o->p.heatmaps, "Number of default heatmaps (default 4)");
      cmd.add_option("--set", o->p.settings,
                     "Override a prediction setting of the model, predict.key=value (repeatable), e.g. --set predict.k=50")
          ->type_name("KEY=VALUE");
      cmd.add_option("--regions", o->p.regions,
                     "Tissue regions: k-means of the prediction into N regions (obs region, regions.png); "
                     "0 = none; default the model's predict.regions")
          ->check(CLI::Range(0, 20));
      return [o] {
        o->p.model = o->model;
        o->p.image = o->image;
        o->p.spots = o->spots;
        o->p.out = o->out;
        SlidePredictionSummary s = predict_slide(o->p);
        std::string scores;
        for (const auto& name : s.scores) scores += (scores.empty() ? "; gene-set scores in obs: " : ", ") + name;
        const std::string regions = s.regions ? fmt::format(", {} regions in regions.png", s.regions) : "";
        spdlog::info("predict: wrote {} (prediction.h5ad, prediction.csv, {} heatmaps{}{})", o->out, s.heatmaps,
                     regions, scores);
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
