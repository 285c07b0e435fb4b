// The prediction seam from the command line: `--set table.key=value` overrides a config as a file
// does, and `predict --set predict.k=20` on a cv fold's model gives what cv predicts at k = 20; the
// settings a prediction ran under are written beside it; train-time settings are refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>

#include "common/atomic_output.h"
#include "config/run_config.h"
#include "io/h5ad.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl::test;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// Largest |a - b| over spots matched by pixel centre, relative to the largest |b|.
double max_relative_difference(const hiscmcl::PreparedSection& a, const hiscmcl::PreparedSection& b) {
  std::map<std::pair<long, long>, int64_t> row_of;
  for (int64_t i = 0; i < a.n_spots(); ++i)
    row_of[{std::lround(a.pixel_xy[size_t(i)][0] * 10), std::lround(a.pixel_xy[size_t(i)][1] * 10)}] = i;
  EXPECT_EQ(a.n_spots(), b.n_spots());
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < b.n_spots(); ++i) {
    auto it = row_of.find({std::lround(b.pixel_xy[size_t(i)][0] * 10), std::lround(b.pixel_xy[size_t(i)][1] * 10)});
    if (it == row_of.end()) return INFINITY;
    for (int64_t g = 0; g < b.expression.cols; ++g) {
      diff = std::max(diff, double(std::abs(a.expression(it->second, g) - b.expression(i, g))));
      scale = std::max(scale, double(std::abs(b.expression(i, g))));
    }
  }
  return diff / std::max(scale, 1e-12);
}

}  // namespace

TEST(ConfigOverrides, SetIsReadAsAConfigFileIs) {
  const hiscmcl::RunConfig base = hiscmcl::default_run_config();
  hiscmcl::RunConfig c = hiscmcl::with_overrides(base, {"predict.k=50", "predict.index=ivf", "train.lr=0.001",
                                                       "encoder.name=\"resnet18\""});
  EXPECT_EQ(c.predict.k, 50);
  EXPECT_EQ(c.predict.index, hiscmcl::KeyIndexKind::ivf);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.001);
  EXPECT_EQ(c.encoder.name, "resnet18");
  EXPECT_EQ(c.model.n_global, base.model.n_global);  // the rest as it was
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_overrides(base, {"predict.kk=5"}); }), "did you mean predict.k?"));
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_overrides(base, {"predictt.k=5"}); }), "did you mean predict?"));
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_overrides(base, {"predict.k=0"}); }), "predict.k"));
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_overrides(base, {"k=5"}); }), "expected table.key=value"));
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_overrides(base, {"predict.predictor=ridge"}); }), "predictor"));
  // A prediction may change only what acts when predicting.
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_predict_overrides(base, {"train.epochs=3"}, "M"); }),
                  "only predict.* settings"));
  EXPECT_TRUE(has(input_error_of([&] { hiscmcl::with_predict_overrides(base, {"predict.keys=expression"}, "M"); }),
                  "fixed when the model is trained"));
  EXPECT_EQ(hiscmcl::with_predict_overrides(base, {"predict.k=7"}, "M").predict.k, 7);
}

TEST(PredictSettings, SetKOnACvFoldModelGivesCvsPredictionAtThatK) {
  TempDir tmp;
  const fs::path syn = small_synthetic();
  const fs::path cfg = tmp / "config.toml";
  hiscmcl::write_text_file(cfg, default_config_with("epochs = 2\nensemble = 1\nk = 50\n"));
  const std::string cv = "cv --quiet --manifest " + q(syn / "manifest.toml") + " --config " + q(cfg) +
                         " --heatmap-genes 0 --out " + q(tmp / "cv");
  auto r = run_hiscmcl(cv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path model = tmp / "cv" / "folds" / "S1" / "model";
  const std::string predict = "predict --quiet --model " + q(model) + " --image " + q(syn / "S1.jpg") + " --spots " +
                              q(syn / "S1_spots.tsv") + " --regions 0";
  auto p20 = run_hiscmcl(predict + " --set predict.k=20 --out " + q(tmp / "p20"));
  ASSERT_EQ(p20.exit_code, 0) << p20.output;
  auto p50 = run_hiscmcl(predict + " --out " + q(tmp / "p50"));
  ASSERT_EQ(p50.exit_code, 0) << p50.output;
  const auto cv50 = hiscmcl::read_prepared_h5ad(tmp / "cv" / "predictions" / "S1.h5ad");
  // The same cv at k = 20 reuses its models (k is a prediction setting) and predicts anew.
  r = run_hiscmcl(cv + " --set predict.k=20");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto cv20 = hiscmcl::read_prepared_h5ad(tmp / "cv" / "predictions" / "S1.h5ad");
  const auto pred20 = hiscmcl::read_prepared_h5ad(tmp / "p20" / "prediction.h5ad");
  const auto pred50 = hiscmcl::read_prepared_h5ad(tmp / "p50" / "prediction.h5ad");
  EXPECT_LT(max_relative_difference(pred20, cv20), 1e-5);
  EXPECT_LT(max_relative_difference(pred50, cv50), 1e-5);
  EXPECT_GT(max_relative_difference(pred20, cv50), 1e-3);  // k changes the prediction: the check can fail
  // What each prediction ran under is beside it.
  const auto settings = nlohmann::json::parse(hiscmcl::read_text_file(tmp / "p20" / "predict_settings.json"));
  EXPECT_EQ(settings["predict"]["k"], 20);
  EXPECT_EQ(settings["set"][0], "predict.k=20");
  EXPECT_TRUE(has(settings["predictor"].get<std::string>(), "stacked: retrieval: top-20")) << settings.dump();
  // A setting the model was trained under cannot be changed here.
  auto bad = run_hiscmcl(predict + " --set predict.keys=expression --out " + q(tmp / "bad"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(has(bad.output, "fixed when the model is trained")) << bad.output;
  EXPECT_FALSE(fs::exists(tmp / "bad"));
}
