// `hiscmcl pretrain` through the built binary: a store's images in, a weight file and its log out,
// and the file is one `embed --encoder small_cnn --weights` reads; bad options fail without output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "common/atomic_output.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl::test;

TEST(PretrainCli, WritesWeightsAnEncoderLoadsAndALog) {
  TempDir dir;
  const fs::path store = dir / "store";
  auto r = run_hiscmcl("prepare --quiet --manifest '" + (small_synthetic() / "manifest.toml").string() + "' --out '" +
                       store.string() + "' --top-mean 20");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path weights = dir / "ssl.pt";
  r = run_hiscmcl("pretrain --quiet --data '" + store.string() + "' --out '" + weights.string() +
                  "' --epochs 2 --batch-size 16 --seed 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(weights));
  auto log = nlohmann::json::parse(hiscmcl::read_text_file(dir / "ssl.pretrain.json"));
  EXPECT_EQ(log["arch"], "small_cnn");
  EXPECT_EQ(log["epoch_loss"].size(), 2u);
  EXPECT_EQ(log["seed"], 4);
  EXPECT_EQ(log["sections"].size(), 3u);
  EXPECT_GT(log["n_crops"].get<int>(), 100);

  r = run_hiscmcl("embed --quiet --data '" + store.string() + "' --encoder small_cnn --weights '" +
                  weights.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(PretrainCli, BadOptionsFailNamingThemAndWriteNothing) {
  TempDir dir;
  const fs::path out = dir / "w.pt";
  auto r = run_hiscmcl("pretrain --quiet --data '" + (dir / "no_store").string() + "' --out '" + out.string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no_store"), std::string::npos) << r.output;
  r = run_hiscmcl("pretrain --quiet --data '" + (dir / "no_store").string() + "' --out '" + out.string() +
                  "' --epochs 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--epochs"), std::string::npos) << r.output;
  r = run_hiscmcl("pretrain --quiet --data '" + (dir / "no_store").string() + "' --out '" + out.string() +
                  "' --arch vgg16");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("vgg16"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir / "w.pretrain.json"));
}
