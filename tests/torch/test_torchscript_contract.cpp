// The TorchScript encoder's contract and its feature cache: forward must return one [B, D] tensor
// (a [B, D, 2, 2] map, a [B] vector, a tuple or a dict is refused naming the file); a model
// returning NaN is refused when embedding; the side-car is part of the cache key (editing it
// recomputes the features); a NaN in the feature cache is refused naming the file and section.
// The models are defined in TorchScript from C++ (Module::define): no python needed.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>

#include "common/error.h"
#include "encoders/encoder.h"
#include "encoders/section_features.h"
#include "io/npy.h"
#include "test_util.h"
#include "tiny_store.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// A TorchScript module saved to `file` whose forward(self, x) returns `body` (x: [B, 3, S, S]).
std::string save_module(const fs::path& file, const std::string& body) {
  torch::jit::Module m("Encoder");
  m.define("def forward(self, x):\n    return " + body + "\n");
  m.save(file.string());
  return file.string();
}

std::string encoder_error(const std::string& model) {
  return test::input_error_of([&] { make_encoder("torchscript:" + model, EncoderOptions{}); });
}

EncoderConfig torchscript_config(const std::string& model) {
  EncoderConfig cfg = default_run_config().encoder;
  cfg.name = "torchscript:" + model;
  cfg.feature_dtype = FeatureDtype::float32;
  return cfg;
}

}  // namespace

TEST(TorchscriptContract, OnlyBatchByFeatureTensorsAreAccepted) {
  test::TempDir dir;
  write_file(dir / "m.json", R"({"input_size": 16})");  // shared by every model below (m.pt)
  const std::string model = (dir / "m.pt").string();

  save_module(model, "x.mean([2, 3])");  // [B, 3]: fine
  auto enc = make_encoder("torchscript:" + model, EncoderOptions{});
  EXPECT_EQ(enc->dim(), 3);

  save_module(model, "x[:, :, 0:2, 0:2]");  // [B, 3, 2, 2]: once silently flattened to 12 features
  std::string msg = encoder_error(model);
  EXPECT_TRUE(has(msg, model)) << msg;
  EXPECT_TRUE(has(msg, "[1, 3, 2, 2]")) << msg;
  EXPECT_TRUE(has(msg, "[B, D]")) << msg;

  save_module(model, "x.mean([1, 2, 3])");  // [B]: once one feature
  msg = encoder_error(model);
  EXPECT_TRUE(has(msg, model)) << msg;
  EXPECT_TRUE(has(msg, "[1] tensor")) << msg;

  save_module(model, "(x.mean([2, 3]), x.mean([2, 3]))");
  msg = encoder_error(model);
  EXPECT_TRUE(has(msg, model)) << msg;
  EXPECT_TRUE(has(msg, "returns a tuple")) << msg;

  save_module(model, "{'features': x.mean([2, 3])}");
  msg = encoder_error(model);
  EXPECT_TRUE(has(msg, model)) << msg;
  EXPECT_TRUE(has(msg, "returns a dict")) << msg;
}

TEST(TorchscriptContract, SidecarUnknownKeyAndHugeInputSizeAreRefused) {
  test::TempDir dir;
  const std::string model = save_module(dir / "m.pt", "x.mean([2, 3])");
  write_file(dir / "m.json", R"({"input_sise": 16})");
  std::string msg = encoder_error(model);
  EXPECT_TRUE(has(msg, "m.json")) << msg;
  EXPECT_TRUE(has(msg, "did you mean \"input_size\"")) << msg;
  write_file(dir / "m.json", R"({"input_size": 10000})");
  msg = encoder_error(model);
  EXPECT_TRUE(has(msg, "at most 2048")) << msg;
}

TEST(TorchscriptContract, EncoderListsNameSmallCnn) {
  for (const char* name : {"torchscript:", "vit_huge"}) {
    try {
      make_encoder(name);
      ADD_FAILURE() << name << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(has(e.what(), "small_cnn")) << e.what();
      EXPECT_TRUE(has(e.what(), "torchscript:<file>")) << e.what();
    }
  }
}

TEST(TorchscriptFeatures, NonFiniteOutputIsRefusedWhenEmbedding) {
  test::TempDir dir;
  auto sections = test::tiny_store(dir);
  write_file(dir / "nan.json", R"({"input_size": 16})");
  // x / 0: infinite or NaN for every crop (the probe forward reads only the output's shape).
  const std::string model = save_module(dir / "nan.pt", "x.mean([2, 3]) / (x.mean([2, 3]) - x.mean([2, 3]))");
  const std::string msg = test::input_error_of(
      [&] { embed_section(dir / "data", sections[0], torchscript_config(model), 1, nullptr); });
  EXPECT_TRUE(has(msg, model)) << msg;
  EXPECT_TRUE(has(msg, "non-finite feature")) << msg;
  EXPECT_TRUE(has(msg, sections[0].id)) << msg;
  EXPECT_FALSE(fs::exists(dir / "data" / "features" / sections[0].id / "torchscript-nan.spot.npy"));
}

TEST(TorchscriptFeatures, EditingTheSidecarRecomputesTheCache) {
  test::TempDir dir;
  auto sections = test::tiny_store(dir);
  write_file(dir / "enc.json", R"({"input_size": 16})");
  const std::string model = save_module(dir / "enc.pt", "x.mean([2, 3])");
  const EncoderConfig cfg = torchscript_config(model);

  EmbedStats first, again, edited;
  const Matrix a = embed_section(dir / "data", sections[0], cfg, 1, nullptr, &first).level("spot").to_matrix();
  EXPECT_GT(first.crops_computed, 0);
  embed_section(dir / "data", sections[0], cfg, 1, nullptr, &again);
  EXPECT_EQ(again.crops_computed, 0);  // the same inputs: the cache
  EXPECT_EQ(again.levels_cached, 2);

  // A new mean shifts every feature: once ignored (the old features reused).
  write_file(dir / "enc.json", R"({"input_size": 16, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]})");
  const Matrix b = embed_section(dir / "data", sections[0], cfg, 1, nullptr, &edited).level("spot").to_matrix();
  EXPECT_EQ(edited.crops_computed, first.crops_computed);
  EXPECT_EQ(edited.levels_cached, 0);
  ASSERT_EQ(a.data.size(), b.data.size());
  EXPECT_NE(a.data, b.data);
}

TEST(TorchscriptFeatures, NonFiniteCacheIsRefusedNamingFileAndSection) {
  test::TempDir dir;
  auto sections = test::tiny_store(dir);
  write_file(dir / "enc.json", R"({"input_size": 16})");
  const std::string model = save_module(dir / "enc.pt", "x.mean([2, 3])");
  const EncoderConfig cfg = torchscript_config(model);
  const Matrix good = embed_section(dir / "data", sections[0], cfg, 1, nullptr).level("spot").to_matrix();

  // The cache file damaged behind the key's back (same shape and dtype, the key untouched).
  const fs::path npy = dir / "data" / "features" / sections[0].id / "torchscript-enc.spot.npy";
  ASSERT_TRUE(fs::exists(npy));
  Matrix bad = good;
  bad(3, 1) = std::numeric_limits<float>::quiet_NaN();
  write_npy_features(npy, bad, FeatureDtype::float32);
  std::string msg = test::input_error_of([&] { embed_section(dir / "data", sections[0], cfg, 1, nullptr); });
  EXPECT_TRUE(has(msg, npy.string())) << msg;
  EXPECT_TRUE(has(msg, "section " + sections[0].id)) << msg;
  EXPECT_TRUE(has(msg, "spot 3, feature 1 is nan")) << msg;

  // float16 caches too (infinity this time).
  EncoderConfig half = cfg;
  half.feature_dtype = FeatureDtype::float16;
  embed_section(dir / "data", sections[1], half, 1, nullptr);
  const fs::path npy16 = dir / "data" / "features" / sections[1].id / "torchscript-enc.spot.f16.npy";
  ASSERT_TRUE(fs::exists(npy16));
  Matrix inf = map_npy_features(npy16).to_matrix();
  inf(0, 2) = std::numeric_limits<float>::infinity();
  write_npy_features(npy16, inf, FeatureDtype::float16);
  msg = test::input_error_of([&] { embed_section(dir / "data", sections[1], half, 1, nullptr); });
  EXPECT_TRUE(has(msg, npy16.string())) << msg;
  EXPECT_TRUE(has(msg, "section " + sections[1].id)) << msg;
  EXPECT_TRUE(has(msg, "is inf")) << msg;
}
