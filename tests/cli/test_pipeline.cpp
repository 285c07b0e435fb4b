// The whole pipeline through the built binary on synthetic sections: cv (metrics, per-gene table,
// predictions that anndata opens, report, resume), predict at given spots and on a tissue grid,
// and the negative control (images paired with the wrong expression predict nothing).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "common/atomic_output.h"
#include "io/h5ad.h"
#include "io/st_legacy_reader.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hiscmcl::test;

namespace {

// One synthetic dataset shared by the tests of this file (generated once per process).
const fs::path& synthetic_dir() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    auto r = run_hiscmcl("synth --quiet --out '" + (dir / "syn").string() +
                         "' --sections 4 --grid 12 --genes 60 --um-per-px 2 --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    made = true;
  }
  static fs::path p = dir / "syn";
  return p;
}

std::string config_with(const TempDir& tmp, const std::string& overrides) {
  fs::path p = tmp / "config.toml";
  hiscmcl::write_text_file(p, default_config_with(overrides));
  return p.string();
}

size_t count_lines(const fs::path& p) {
  std::ifstream f(p);
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) ++n;
  return n;
}

}  // namespace

TEST(Pipeline, CvOnSyntheticSectionsThenPredict) {
  TempDir tmp;
  fs::path syn = synthetic_dir();
  // The region labels serve as published clusters too, so both scores must agree exactly.
  std::string manifest = hiscmcl::read_text_file(syn / "manifest.toml"), with_clusters;
  std::istringstream lines(manifest);
  for (std::string line; std::getline(lines, line);) {
    with_clusters += line + "\n";
    if (line.rfind("labels = ", 0) == 0) with_clusters += "clusters = " + line.substr(9) + "\n";
  }
  ASSERT_NE(with_clusters.find("clusters = "), std::string::npos) << manifest;
  hiscmcl::write_text_file(syn / "manifest_clusters.toml", with_clusters);
  std::string cmd = "cv --quiet --manifest '" + (syn / "manifest_clusters.toml").string() + "' --config '" +
                    config_with(tmp, "") + "' --epochs 25 --out '" + (tmp / "cv").string() + "'";
  auto r = run_hiscmcl(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HisCMCL"), std::string::npos) << r.output;  // the printed table

  json m = json::parse(hiscmcl::read_text_file(tmp / "cv" / "metrics.json"));
  ASSERT_EQ(m["sections"].size(), 4u);
  for (auto id : {"S1", "S2", "S3", "S4"}) {
    const json& s = m["sections"][id];
    for (auto k : {"acg", "heg", "hvg", "mse", "mae", "n_spots", "ari", "nmi", "ari_clusters", "nmi_clusters"})
      EXPECT_TRUE(s.contains(k)) << id << k;
    EXPECT_EQ(s["ari_clusters"], s["ari"]) << id;
    EXPECT_EQ(s["nmi_clusters"], s["nmi"]) << id;
    EXPECT_EQ(m["baseline"]["ridge"]["sections"][id]["ari_clusters"], m["baseline"]["ridge"]["sections"][id]["ari"]);
    EXPECT_TRUE(fs::exists(tmp / "cv" / "heatmaps" / (std::string(id) + "_regions.png"))) << id;
    EXPECT_GT(s["n_spots"].get<int>(), 50);
    EXPECT_TRUE(m["baseline"]["ridge"]["sections"].contains(id));
    EXPECT_TRUE(m["baseline"]["ridge_crops"]["sections"].contains(id));
    // the two baselines read different design matrices, so they predict differently
    EXPECT_NE(m["baseline"]["ridge"]["sections"][id]["mse"], m["baseline"]["ridge_crops"]["sections"][id]["mse"]);
  }
  for (auto b : {"ridge", "ridge_crops"}) {
    EXPECT_EQ(m["baseline"][b]["alpha"].size(), 4u) << b;  // one alpha per fold, chosen by inner LOSO
    for (auto& [fold, a] : m["baseline"][b]["alpha"].items()) EXPECT_GE(a.get<double>(), 1.0) << b << fold;
  }
  EXPECT_NE(r.output.find("ridge_crops"), std::string::npos) << r.output;
  // The synthetic expression follows the tissue: held-out sections are predicted well above chance.
  EXPECT_GT(m["mean"]["acg"].get<double>(), 0.25);
  EXPECT_GT(m["baseline"]["ridge"]["mean"]["acg"].get<double>(), 0.25);
  EXPECT_GT(m["baseline"]["ridge_crops"]["mean"]["acg"].get<double>(), 0.25);
  EXPECT_GT(m["mean"]["mse"].get<double>(), 0.0);
  EXPECT_EQ(m["n_genes"].get<int>(), 60);
  EXPECT_EQ(count_lines(tmp / "cv" / "per_gene.csv"), 1u + 4u * 60u);
  std::string html = hiscmcl::read_text_file(tmp / "cv" / "report.html");
  EXPECT_NE(html.find("S3"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);  // loss curves
  EXPECT_NE(html.find("S3_regions.png"), std::string::npos);
  EXPECT_NE(html.find("<th>ARI cl.</th>"), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp / "cv" / "folds" / "S2" / "model" / "train_log.csv"));

  // Re-running resumes from the finished folds: same numbers.
  auto r2 = run_hiscmcl(cmd);
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  json m2 = json::parse(hiscmcl::read_text_file(tmp / "cv" / "metrics.json"));
  EXPECT_EQ(m2["sections"], m["sections"]);

  // anndata opens the predictions.
  if (auto py = python_with("anndata"); !py.empty()) {
    auto a = run_command(py + " -c \"import anndata; a = anndata.read_h5ad('" +
                         (tmp / "cv" / "predictions" / "S1.h5ad").string() +
                         "'); print(a.shape[1], a.obsm['spatial'].shape[1], a.var_names[0])\"");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    EXPECT_NE(a.output.find("60 2"), std::string::npos) << a.output;
    // Regions are categoricals, 6 of them (predict.regions), and the prediction's regions,
    // numbered to match the measured expression's, share most spots with them (the synthetic
    // expression follows the tissue's compartments).
    auto g = run_command(py + " -c \"import anndata; a = anndata.read_h5ad('" +
                         (tmp / "cv" / "predictions" / "S1.h5ad").string() +
                         "'); r, t = a.obs['region'], a.obs['region_measured']; "
                         "print(r.dtype.name, len(r.cat.categories), round(float((r.astype(str) == t.astype(str)).mean()), 3))\"");
    ASSERT_EQ(g.exit_code, 0) << g.output;
    std::istringstream out(g.output);
    std::string dtype;
    int n_regions = 0;
    double agree = 0;
    out >> dtype >> n_regions >> agree;
    EXPECT_EQ(dtype, "category") << g.output;
    EXPECT_EQ(n_regions, 6) << g.output;
    EXPECT_GT(agree, 0.5) << g.output;
  } else {
    std::cout << "note: anndata's reading of the predictions not checked: python3-anndata is absent"
                 " (Debian 13 has none)\n";
  }

  // predict at the spot table's spots, and on a grid over the detected tissue.
  fs::path model = tmp / "cv" / "folds" / "S1" / "model";
  fs::path image = syn / "S1.jpg";
  auto p1 = run_hiscmcl("predict --quiet --model '" + model.string() + "' --image '" + image.string() +
                        "' --spots '" + (syn / "S1_spots.tsv").string() + "' --out '" + (tmp / "p1").string() + "'");
  ASSERT_EQ(p1.exit_code, 0) << p1.output;
  auto table = hiscmcl::read_spot_table(syn / "S1_spots.tsv");
  std::vector<std::array<double, 2>> tissue;
  for (auto& row : table)
    if (row.selected == 1) tissue.push_back({row.pixel_x, row.pixel_y});
  EXPECT_EQ(count_lines(tmp / "p1" / "prediction.csv"), 1 + tissue.size());
  EXPECT_TRUE(fs::exists(tmp / "p1" / "prediction.h5ad"));
  EXPECT_TRUE(fs::exists(tmp / "p1" / "regions.png"));
  {
    std::ifstream csv1(tmp / "p1" / "prediction.csv");
    std::string header, row;
    std::getline(csv1, header);
    std::getline(csv1, row);
    auto fields = [](const std::string& l) {
      std::vector<std::string> f;
      std::stringstream ss(l);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      return f;
    };
    auto h = fields(header), v = fields(row);
    auto at = std::find(h.begin(), h.end(), "region");
    ASSERT_NE(at, h.end()) << header;
    const int region = std::stoi(v[size_t(at - h.begin())]);
    EXPECT_GE(region, 1);
    EXPECT_LE(region, 6);
  }
  auto p0 = run_hiscmcl("predict --quiet --model '" + model.string() + "' --image '" + image.string() +
                        "' --spots '" + (syn / "S1_spots.tsv").string() + "' --regions 0 --out '" + (tmp / "p0").string() + "'");
  ASSERT_EQ(p0.exit_code, 0) << p0.output;
  EXPECT_FALSE(fs::exists(tmp / "p0" / "regions.png"));
  EXPECT_EQ(hiscmcl::read_text_file(tmp / "p0" / "prediction.csv").find(",region"), std::string::npos);
  // The default predictor is "stacked": the fold's model folder carries the fair ridge, so predict
  // on the held-out section gives what cv predicted for it (the CSV keeps 6 digits).
  ASSERT_TRUE(fs::exists(model / "ridge.h5"));
  const auto cv_pred = hiscmcl::read_prepared_h5ad(tmp / "cv" / "predictions" / "S1.h5ad");
  auto csv_values = [](const fs::path& csv) {
    std::map<std::pair<long, long>, std::vector<double>> rows;  // by pixel centre (0.1 px)
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::stringstream ss(line);
      std::vector<std::string> f;
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      std::vector<double> v;
      for (size_t c = 3; c < f.size(); ++c) v.push_back(std::stod(f[c]));
      rows[{std::lround(std::stod(f[1]) * 10), std::lround(std::stod(f[2]) * 10)}] = v;
    }
    return rows;
  };
  const auto p0_rows = csv_values(tmp / "p0" / "prediction.csv");
  ASSERT_EQ(int64_t(p0_rows.size()), cv_pred.n_spots());
  double max_diff = 0, max_abs = 0;
  for (int64_t i = 0; i < cv_pred.n_spots(); ++i) {
    auto it = p0_rows.find({std::lround(cv_pred.pixel_xy[size_t(i)][0] * 10), std::lround(cv_pred.pixel_xy[size_t(i)][1] * 10)});
    ASSERT_NE(it, p0_rows.end()) << "spot " << i << " of the cv prediction is not in predict's";
    for (int64_t g = 0; g < cv_pred.expression.cols; ++g) {
      max_diff = std::max(max_diff, std::abs(it->second[size_t(g)] - cv_pred.expression(i, g)));
      max_abs = std::max(max_abs, double(std::abs(cv_pred.expression(i, g))));
    }
  }
  EXPECT_LT(max_diff, 1e-5 * max_abs + 1e-6) << max_abs;
  // A model folder without its ridge (one made before ridge.h5) predicts by retrieval alone, and says so.
  fs::copy(model, tmp / "model_no_ridge", fs::copy_options::recursive);
  fs::remove(tmp / "model_no_ridge" / "ridge.h5");
  fs::remove(tmp / "model_no_ridge" / "checksums.txt");  // such a folder predates the checksum list too
  auto pr = run_hiscmcl("predict --model '" + (tmp / "model_no_ridge").string() + "' --image '" + image.string() +
                        "' --spots '" + (syn / "S1_spots.tsv").string() + "' --regions 0 --out '" + (tmp / "pr").string() + "'");
  ASSERT_EQ(pr.exit_code, 0) << pr.output;
  EXPECT_NE(pr.output.find("has no ridge.h5: this slide is predicted by retrieval alone"), std::string::npos) << pr.output;
  const auto pr_rows = csv_values(tmp / "pr" / "prediction.csv");
  ASSERT_EQ(pr_rows.size(), p0_rows.size());
  double blend_moved = 0;
  for (const auto& [xy, v] : p0_rows)
    for (size_t g = 0; g < size_t(cv_pred.expression.cols); ++g) blend_moved = std::max(blend_moved, std::abs(v[g] - pr_rows.at(xy)[g]));
  EXPECT_GT(blend_moved, 1e-3 * max_abs);
  // The same image as a tiled pyramidal TIFF (lossless, as HEST writes them) goes through
  // OpenSlide and predicts exactly the same: every crop here is read from full resolution.
  if (run_command("command -v vips").exit_code == 0) {
    fs::path tif = tmp / "S1_pyramid.tif";
    auto v = run_command("vips tiffsave '" + image.string() + "' '" + tif.string() +
                         "' --tile --pyramid --compression deflate --tile-width 128 --tile-height 128");
    ASSERT_EQ(v.exit_code, 0) << v.output;
    auto pt = run_hiscmcl("predict --quiet --model '" + model.string() + "' --image '" + tif.string() +
                          "' --spots '" + (syn / "S1_spots.tsv").string() + "' --regions 0 --out '" + (tmp / "pt").string() + "'");
    ASSERT_EQ(pt.exit_code, 0) << pt.output;
    EXPECT_EQ(hiscmcl::read_text_file(tmp / "pt" / "prediction.csv"),
              hiscmcl::read_text_file(tmp / "p0" / "prediction.csv"));
    // vips wrote its 72-dpi placeholder resolution (353 um/px), which predict ignored above. A
    // slide that records 1 um/px (the training images: 2) gets spots twice as wide in pixels.
    fs::path tif1 = tmp / "S1_1um.tif";
    v = run_command("vips tiffsave '" + image.string() + "' '" + tif1.string() +
                    "' --tile --pyramid --compression deflate --resunit cm --xres 1000 --yres 1000");
    ASSERT_EQ(v.exit_code, 0) << v.output;
    auto diameter = [&](const std::string& extra, const std::string& out) {
      auto r = run_hiscmcl("predict --model '" + model.string() + "' --image '" + tif1.string() + "' --spots '" +
                           (syn / "S1_spots.tsv").string() + "' --regions 0 --out '" + (tmp / out).string() + "' " + extra);
      EXPECT_EQ(r.exit_code, 0) << r.output;
      auto at = r.output.find("spot diameter ");
      EXPECT_NE(at, std::string::npos) << r.output;
      return std::make_pair(at == std::string::npos ? 0.0 : std::stod(r.output.substr(at + 14)), r.output);
    };
    auto [trained, log_trained] = diameter("--um-per-px 2", "p_2um");
    auto [scaled, log_scaled] = diameter("", "p_slide");
    EXPECT_NE(log_scaled.find("records 1 um/px (training images: 2)"), std::string::npos) << log_scaled;
    EXPECT_NEAR(scaled, 2 * trained, 0.1) << log_trained << log_scaled;
  } else {
    ADD_FAILURE() << "vips (libvips-tools, scripts/setup.sh) is absent: the pyramidal TIFF check did not run";
  }

  auto p2 = run_hiscmcl("predict --quiet --model '" + model.string() + "' --image '" + image.string() +
                        "' --grid --out '" + (tmp / "p2").string() + "'");
  ASSERT_EQ(p2.exit_code, 0) << p2.output;
  // The grid covers the tissue and not the background.
  cv::Mat img = cv::imread(image.string());
  std::ifstream csv(tmp / "p2" / "prediction.csv");
  std::string line;
  std::getline(csv, line);
  int n_grid = 0, on_glass = 0;
  std::vector<std::array<double, 2>> grid;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string id, xs, ys;
    std::getline(ss, id, ',');
    std::getline(ss, xs, ',');
    std::getline(ss, ys, ',');
    double x = std::stod(xs), y = std::stod(ys);
    grid.push_back({x, y});
    cv::Vec3b px = img.at<cv::Vec3b>(int(y), int(x));
    cv::Mat patch = img(cv::Rect(int(x) - 10, int(y) - 10, 21, 21));
    cv::Scalar mean = cv::mean(patch);
    ++n_grid;
    if (mean[0] > 225 && mean[1] > 225 && mean[2] > 225) ++on_glass;
    (void)px;
  }
  ASSERT_GT(n_grid, 0);
  EXPECT_LT(on_glass, std::max(2, n_grid / 10)) << on_glass << " of " << n_grid << " grid spots on glass";
  // Every tissue spot of the real array has a grid spot within one pitch (100 px at 2 µm/px).
  int covered = 0;
  for (auto& t : tissue) {
    double best = 1e9;
    for (auto& g : grid) best = std::min(best, std::hypot(g[0] - t[0], g[1] - t[1]));
    covered += best < 100.0;
  }
  EXPECT_GT(covered, int(0.9 * tissue.size())) << covered << " of " << tissue.size();
  EXPECT_GT(n_grid, int(0.7 * tissue.size()));
  EXPECT_LT(n_grid, int(1.4 * tissue.size()));
}

TEST(Pipeline, ImagesPairedWithTheWrongExpressionPredictNothing) {
  TempDir tmp;
  fs::path syn = synthetic_dir();
  auto r = run_hiscmcl("cv --quiet --manifest '" + (syn / "manifest.toml").string() + "' --config '" +
                       config_with(tmp, "permute_pairs = true\n") + "' --epochs 25 --heatmap-genes 0 --out '" +
                       (tmp / "cv").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json m = json::parse(hiscmcl::read_text_file(tmp / "cv" / "metrics.json"));
  // The synthetic genes co-vary with the tissue's compartments, so a map fitted to wrong pairs
  // still correlates with every gene at once, with a random sign per section (|ACG| up to ~0.2
  // per section; the mean of 4 sections has an sd near 0.06). Paired right, the same sections
  // score above 0.25 (CvOnSyntheticSectionsThenPredict). The ridges see the permuted pairs too.
  EXPECT_LT(std::abs(m["mean"]["acg"].get<double>()), 0.1) << m["mean"].dump();
  for (auto b : {"ridge", "ridge_crops"})
    EXPECT_LT(std::abs(m["baseline"][b]["mean"]["acg"].get<double>()), 0.1) << b << m["baseline"][b]["mean"].dump();
}
