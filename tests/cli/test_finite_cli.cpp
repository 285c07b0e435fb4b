// Finite or refused, through the command line: a config with train.lr = inf or nan ends with exit 2
// and a message naming the key and file. Before, lr = inf trained a NaN model whose prediction was
// NaN everywhere (exit 0) and lr = nan ended in a LibTorch stack trace. A predict.k past the
// reference size is clamped with a warning. (A NaN ridge.h5 is refused by its loader:
// tests/torch/test_finite_training.cpp; through the CLI the model folder's checksums catch an
// edited file first.)
#include <gtest/gtest.h>

#include <filesystem>

#include "common/atomic_output.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl::test;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST(FiniteCli, NonFiniteLearningRateExitsTwoNamingTheKey) {
  const fs::path syn = small_synthetic();
  TempDir tmp;
  auto p = run_hiscmcl("prepare --quiet --manifest " + q(syn / "manifest.toml") + " --out " + q(tmp / "store"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  for (const char* lr : {"inf", "nan"}) {
    const fs::path cfg = tmp / (std::string(lr) + ".toml");
    hiscmcl::write_text_file(cfg, default_config_with(std::string("lr = ") + lr + "\nepochs = 1\nensemble = 1\n"));
    auto r = run_hiscmcl("train --quiet --data " + q(tmp / "store") + " --config " + q(cfg) + " --out " +
                         q(tmp / (std::string("model_") + lr)));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(has(r.output, "train.lr must be a finite number")) << r.output;
    EXPECT_TRUE(has(r.output, cfg.filename().string())) << r.output;
    EXPECT_FALSE(has(r.output, "Exception raised from")) << r.output;  // no LibTorch stack trace
    EXPECT_FALSE(fs::exists(tmp / (std::string("model_") + lr) / "model.json"));
  }
}

TEST(FiniteCli, KPastTheReferenceSizeIsClampedWithAWarning) {
  const fs::path syn = small_synthetic();
  TempDir tmp;
  auto p = run_hiscmcl("prepare --quiet --manifest " + q(syn / "manifest.toml") + " --out " + q(tmp / "store"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const fs::path cfg = tmp / "config.toml";
  // k past the 192 reference spots: clamped, with a warning.
  hiscmcl::write_text_file(cfg, default_config_with("epochs = 1\nensemble = 1\nk = 5000\n"));
  auto t = run_hiscmcl("train --quiet --data " + q(tmp / "store") + " --config " + q(cfg) + " --out " + q(tmp / "model"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  auto r = run_hiscmcl("predict --quiet --model " + q(tmp / "model") + " --image " + q(syn / "S1.jpg") + " --spots " +
                       q(syn / "S1_spots.tsv") + " --out " + q(tmp / "pred"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "predict.k = 5000 exceeds the model's")) << r.output;
}
