// `hiscmcl predict`: expression of every spot of a new H&E image, from a trained model.
#include <algorithm>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "cli/command.h"
#include "common/atomic_output.h"
#include "common/error.h"
#include "common/file_names.h"
#include "common/log.h"
#include "encoders/section_features.h"
#include "eval/heatmap.h"
#include "io/h5ad.h"
#include "io/slide_image.h"
#include "io/spot_list.h"
#include "predict/retrieval_predictor.h"
#include "predict/tissue_grid.h"
#include "train/end_to_end.h"
#include "train/model_bundle.h"

namespace fs = std::filesystem;

namespace hiscmcl::cli {
namespace {

struct Options {
  std::string model, image, spots, out, genes;
  bool grid = false;
  double spot_diameter_px = 0, um_per_px = 0, pitch = 2.0;
  int heatmaps = 4;
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
      auto grid = cmd.add_flag("--grid", o->grid, "No ST: find the tissue and lay a spot grid over it");
      spots->excludes(grid);
      cmd.add_option("--out", o->out, "Output folder")->required();
      cmd.add_option("--spot-diameter-px", o->spot_diameter_px, "Spot diameter in this image's pixels");
      cmd.add_option("--um-per-px", o->um_per_px, "This image's resolution (scales the training spot size)");
      cmd.add_option("--grid-pitch", o->pitch, "Grid pitch in spot diameters (default 2, the ST array)");
      cmd.add_option("--genes", o->genes, "Comma list of genes to draw (default: the 4 highest mean)");
      cmd.add_option("--heatmaps", o->heatmaps, "Number of default heatmaps (default 4)");
      return [o] {
        if (o->spots.empty() && !o->grid) throw InputError(o->image, "give --spots FILE or --grid");
        ModelBundle bundle = load_model_bundle(o->model);
        double diam = bundle.spot_diameter_px;
        if (o->spot_diameter_px > 0) diam = o->spot_diameter_px;
        else if (o->um_per_px > 0 && bundle.um_per_px > 0) diam = bundle.spot_diameter_px * bundle.um_per_px / o->um_per_px;
        auto image = SlideImage::open(o->image);
        QuerySpots q = o->grid ? tissue_grid(*image, diam, o->pitch * diam) : read_query_spots(o->spots);
        if (q.ids.empty()) throw InputError(o->image, "no tissue found for the spot grid");
        spdlog::info("predict: {} spots ({}), spot diameter {:.1f} px", q.ids.size(), q.format, diam);

        auto encoder = bundle_encoder(bundle);  // an end-to-end model brings its trained trunk
        SectionFeatures f = embed_spots(*image, o->image, q.pixel_xy, diam, bundle.config.encoder, *encoder);
        RetrievalPredictor predictor(bundle);
        Matrix pred = predictor.predict(q.pixel_xy, f);

        AtomicPath out(o->out);
        fs::create_directories(out.temp());
        PreparedSection p;
        p.id = fs::path(o->image).stem().string();
        p.genes = bundle.genes;
        p.spot_ids = q.ids;
        p.expression = pred;
        p.array_xy = q.array_xy;
        p.pixel_xy = q.pixel_xy;
        p.image.image_path = fs::absolute(o->image).string();
        p.image.spot_diameter_px = diam;
        p.image.width = image->width();
        p.image.height = image->height();
        p.normalization = "prediction";
        write_prepared_h5ad(out.temp() / "prediction.h5ad", p);

        std::ostringstream csv;
        csv << "id,pixel_x,pixel_y";
        for (auto& g : bundle.genes) csv << "," << g;
        csv << "\n" << std::setprecision(6);
        for (int64_t i = 0; i < pred.rows; ++i) {
          csv << q.ids[size_t(i)] << "," << q.pixel_xy[size_t(i)][0] << "," << q.pixel_xy[size_t(i)][1];
          for (int64_t g = 0; g < pred.cols; ++g) csv << "," << pred(i, g);
          csv << "\n";
        }
        write_text_file(out.temp() / "prediction.csv", csv.str());

        std::vector<int64_t> chosen;
        if (!o->genes.empty()) {
          std::stringstream ss(o->genes);
          std::string g;
          while (std::getline(ss, g, ',')) {
            auto it = std::find(bundle.genes.begin(), bundle.genes.end(), g);
            if (it == bundle.genes.end()) throw InputError(o->model, "gene '" + g + "' is not in the model's panel");
            chosen.push_back(it - bundle.genes.begin());
          }
        } else {
          std::vector<double> mean(size_t(pred.cols), 0.0);
          for (int64_t i = 0; i < pred.rows; ++i)
            for (int64_t g = 0; g < pred.cols; ++g) mean[size_t(g)] += pred(i, g);
          chosen.resize(size_t(pred.cols));
          std::iota(chosen.begin(), chosen.end(), 0);
          std::stable_sort(chosen.begin(), chosen.end(), [&](int64_t a, int64_t b) { return mean[size_t(a)] > mean[size_t(b)]; });
          chosen.resize(std::min<size_t>(chosen.size(), size_t(o->heatmaps)));
        }
        HeatmapBackground bg = heatmap_background(*image);
        std::vector<cv::Point2d> pts = to_points(q.pixel_xy);
        for (int64_t g : chosen) {
          std::vector<float> v(size_t(pred.rows));
          for (int64_t i = 0; i < pred.rows; ++i) v[size_t(i)] = pred(i, g);
          std::string name = bundle.genes[size_t(g)];
          write_heatmap_png(out.temp() / ("heatmap_" + file_safe_name(name) + ".png"), bg.rgb, bg.downsample, pts, v, diam,
                            p.id + "  " + name + "  (predicted)");
        }
        out.commit();
        spdlog::info("predict: wrote {} (prediction.h5ad, prediction.csv, {} heatmaps)", o->out, chosen.size());
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
