// Finite or refused, for settings: config numbers that are NaN, infinite or out of range are refused
// naming the key (train.lr = inf once trained a NaN model; lr = nan ended in a LibTorch stack
// trace), and the TorchScript side-car refuses unknown keys and oversized crops. Also the side-car's
// part in the feature cache's key: editing it changes the key.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "config/run_config.h"
#include "encoders/torchscript_sidecar.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {

std::string refusal(const std::string& toml) {
  return test::input_error_of([&] { parse_run_config_toml(toml, "cfg.toml"); });
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

TEST(FiniteSettings, NonFiniteNumbersAreRefusedNamingTheKey) {
  for (const char* v : {"inf", "-inf", "nan", "+inf"}) {
    const std::string msg = refusal(std::string("[train]\nlr = ") + v + "\n");
    EXPECT_TRUE(has(msg, "cfg.toml")) << msg;
    EXPECT_TRUE(has(msg, "train.lr must be a finite number")) << msg;
  }
  EXPECT_TRUE(has(refusal("[loss]\ntemperature = inf\n"), "loss.temperature must be a finite number"));
  EXPECT_TRUE(has(refusal("[model]\nspot_dropout = nan\n"), "model.spot_dropout must be a finite number"));
  EXPECT_TRUE(has(refusal("[predict]\nridge_alpha = nan\n"), "predict.ridge_alpha must be a finite number"));
  EXPECT_TRUE(has(refusal("[encoder]\nspot_fov = inf\n"), "encoder.spot_fov must be a finite number"));
}

TEST(FiniteSettings, ConfigsBuiltInCodeAreCheckedToo) {
  // validate() is also what model.json and configs built in code go through.
  RunConfig c = default_run_config();
  c.train.lr = std::numeric_limits<double>::quiet_NaN();
  std::string msg = test::input_error_of([&] { validate(c, "code"); });
  EXPECT_TRUE(has(msg, "train.lr must be a finite number")) << msg;
  c = default_run_config();
  c.model.input_dropout = std::numeric_limits<double>::quiet_NaN();  // passed `d < 0 || d >= 1`
  msg = test::input_error_of([&] { validate(c, "code"); });
  EXPECT_TRUE(has(msg, "model.input_dropout")) << msg;
  c = default_run_config();
  c.loss.regression_weight = std::numeric_limits<double>::infinity();
  msg = test::input_error_of([&] { validate(c, "code"); });
  EXPECT_TRUE(has(msg, "loss.regression_weight")) << msg;
}

TEST(FiniteSettings, NumbersOutOfRangeAreRefused) {
  std::string msg = refusal("[train]\nlr = 5.0\n");
  EXPECT_TRUE(has(msg, "train.lr")) << msg;
  EXPECT_TRUE(has(msg, "at most 1")) << msg;
  msg = refusal("[train]\nlr = 0.0\n");
  EXPECT_TRUE(has(msg, "train.lr")) << msg;
  msg = refusal("[loss]\ntemperature = 1e-30\n");
  EXPECT_TRUE(has(msg, "loss.temperature")) << msg;
  EXPECT_TRUE(has(msg, "between 1e-4 and 1e4")) << msg;
  msg = refusal("[predict]\nsoftmax_temperature = 1e-12\n");
  EXPECT_TRUE(has(msg, "predict.softmax_temperature")) << msg;
  msg = refusal("[predict]\nk = 0\n");
  EXPECT_TRUE(has(msg, "predict.k must be >= 1")) << msg;
  msg = refusal("[encoder]\nbatch_size = 0\n");  // named itself, not beside compat_crop_px
  EXPECT_TRUE(has(msg, "encoder.batch_size must be >= 1")) << msg;
  EXPECT_FALSE(has(msg, "compat_crop_px")) << msg;
  msg = refusal("[encoder]\nneighbourhood_fov = 1e9\n");
  EXPECT_TRUE(has(msg, "neighbourhood_fov")) << msg;
  // The defaults and the shipped ranges stay accepted.
  EXPECT_NO_THROW(parse_run_config_toml("[train]\nlr = 1.0\n[loss]\ntemperature = 1e-4\n", "cfg.toml"));
  EXPECT_NO_THROW(parse_run_config_toml("[predict]\nsoftmax_temperature = 0.0\n", "cfg.toml"));
}

TEST(TorchscriptSidecarKeys, UnknownKeysNameTheNearestValidOne) {
  TorchscriptSidecar defaults;
  std::string msg = test::input_error_of(
      [&] { parse_torchscript_sidecar(R"({"inputsize": 32})", "m.json", defaults); });
  EXPECT_TRUE(has(msg, "m.json")) << msg;
  EXPECT_TRUE(has(msg, "unknown key \"inputsize\"")) << msg;
  EXPECT_TRUE(has(msg, "did you mean \"input_size\"")) << msg;
  msg = test::input_error_of([&] { parse_torchscript_sidecar(R"({"mean": [0,0,0], "stdev": [1,1,1]})", "m.json", defaults); });
  EXPECT_TRUE(has(msg, "did you mean \"std\"")) << msg;
}

TEST(TorchscriptSidecarKeys, MeanAndStdStayOnThePixelScale) {
  // A mean of 3e38 is a finite float, but every normalised input became -3e38 and the model NaN.
  TorchscriptSidecar defaults;
  std::string msg = test::input_error_of([&] { parse_torchscript_sidecar(R"({"mean": [3e38, 0, 0]})", "m.json", defaults); });
  EXPECT_TRUE(has(msg, "m.json")) << msg;
  EXPECT_TRUE(has(msg, "\"mean\" values must be within [-10, 10]")) << msg;
  msg = test::input_error_of([&] { parse_torchscript_sidecar(R"({"std": [58.4, 57.1, 57.4]})", "m.json", defaults); });
  EXPECT_TRUE(has(msg, "divide by 255")) << msg;
  EXPECT_NO_THROW(parse_torchscript_sidecar(R"({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})", "m.json", defaults));
}

TEST(TorchscriptSidecarKeys, InputSizeIsBounded) {
  TorchscriptSidecar defaults;
  std::string msg = test::input_error_of([&] { parse_torchscript_sidecar(R"({"input_size": 4096})", "m.json", defaults); });
  EXPECT_TRUE(has(msg, "\"input_size\"")) << msg;
  EXPECT_TRUE(has(msg, "at most 2048")) << msg;
  EXPECT_EQ(parse_torchscript_sidecar(R"({"input_size": 2048})", "m.json", defaults).input_size, 2048);
}

TEST(TorchscriptCacheInputs, ModelContentAndSidecarAreInTheKey) {
  test::TempDir dir;
  const std::string model = (dir / "enc.pt").string();
  write_file(model, "model bytes v1");
  const auto bare = torchscript_cache_inputs(model);
  EXPECT_FALSE(bare.contains("sidecar"));
  ASSERT_TRUE(bare.contains("content"));

  write_file(dir / "enc.json", R"({"input_size": 32, "mean": [0.5, 0.5, 0.5]})");
  const auto with_sidecar = torchscript_cache_inputs(model);
  EXPECT_NE(with_sidecar, bare);
  EXPECT_EQ(with_sidecar["sidecar"]["path"], (dir / "enc.json").string());

  // Re-indenting keeps the key; a changed mean changes it.
  write_file(dir / "enc.json", "{\n  \"input_size\": 32,\n  \"mean\": [0.5, 0.5, 0.5]\n}\n");
  EXPECT_EQ(torchscript_cache_inputs(model), with_sidecar);
  write_file(dir / "enc.json", R"({"input_size": 32, "mean": [0.4, 0.5, 0.5]})");
  EXPECT_NE(torchscript_cache_inputs(model), with_sidecar);

  // <file>.json wins over <file minus extension>.json.
  write_file(dir / "enc.pt.json", R"({"input_size": 64})");
  EXPECT_EQ(torchscript_cache_inputs(model)["sidecar"]["path"], (dir / "enc.pt.json").string());

  // Same size, new bytes: a different content hash (the hash is remembered per mtime within a
  // process, so the test moves the mtime on: a coarse clock may give both writes the same one).
  const auto before = torchscript_cache_inputs(model)["content"];
  const auto mtime = std::filesystem::last_write_time(model);
  write_file(model, "model bytes v2");
  std::filesystem::last_write_time(model, mtime + std::chrono::seconds(2));
  EXPECT_NE(torchscript_cache_inputs(model)["content"], before);
}
