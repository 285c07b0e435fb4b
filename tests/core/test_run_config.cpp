// The typed run config: one source of defaults, refusals that name the key, generated JSON.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <fstream>
#include <set>

#include <unistd.h>

#include "common/atomic_output.h"
#include "config/run_config.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {

std::string refusal(const std::string& toml) {
  return test::input_error_of([&] { parse_run_config_toml(toml, "cfg.toml"); });
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::set<std::string> leaf_keys(const nlohmann::json& j, const std::string& prefix = "") {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string k = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      auto sub = leaf_keys(*it, k);
      out.insert(sub.begin(), sub.end());
    } else {
      out.insert(k);
    }
  }
  return out;
}

}  // namespace

TEST(RunConfig, StructDefaultsAreTheShippedDefaultToml) {
  const auto path = std::filesystem::path(HISCMCL_SOURCE_DIR) / "configs" / "default.toml";
  RunConfig file = load_run_config(path);
  EXPECT_TRUE(RunConfig{} == file) << to_json(RunConfig{}).dump(1) << "\nvs\n" << to_json(file).dump(1);
  EXPECT_TRUE(default_run_config() == file);
  EXPECT_EQ(default_config_toml(), read_text_file(path));  // the embedded copy is the file itself
  // Every setting is written out in the file, so it documents them all.
  nlohmann::json listed = nlohmann::json::object();
  auto tbl = toml::parse_file(path.string());
  for (auto&& [k, v] : tbl) {
    if (auto t = v.as_table())
      for (auto&& [k2, v2] : *t) listed[std::string(k.str())][std::string(k2.str())] = 0;
    else
      listed[std::string(k.str())] = 0;
  }
  EXPECT_EQ(leaf_keys(listed), leaf_keys(to_json(RunConfig{})));
  // A few values that matter, spelt out so a change to them is a visible test change.
  EXPECT_EQ(file.train.ensemble, 2);
  EXPECT_EQ(file.predict.keys, RetrievalKeys::image);
  EXPECT_TRUE(file.predict.centre_sections);
  EXPECT_EQ(file.model.fusion, Fusion::hierarchical);
}

TEST(RunConfig, UnknownKeysNameTheNearestValidOne) {
  std::string msg = refusal("[train]\nepoch = 5\n");
  EXPECT_TRUE(has(msg, "cfg.toml")) << msg;
  EXPECT_TRUE(has(msg, "unknown key [train] epoch")) << msg;
  EXPECT_TRUE(has(msg, "train.epochs")) << msg;
  msg = refusal("[trian]\nepochs = 5\n");
  EXPECT_TRUE(has(msg, "unknown key trian")) << msg;
  EXPECT_TRUE(has(msg, "did you mean train?")) << msg;
  msg = refusal("[predict]\ncenter_sections = true\n");
  EXPECT_TRUE(has(msg, "predict.centre_sections")) << msg;
}

TEST(RunConfig, WrongTypesAndChoicesNameTheKey) {
  std::string msg = refusal("[train]\nepochs = \"5\"\n");
  EXPECT_TRUE(has(msg, "train.epochs must be an integer")) << msg;
  msg = refusal("[train]\nlr = true\n");
  EXPECT_TRUE(has(msg, "train.lr must be a number")) << msg;
  msg = refusal("[train]\nseed = -1\n");
  EXPECT_TRUE(has(msg, "train.seed")) << msg;
  msg = refusal("[model]\nfusion = \"hierarchal\"\n");
  EXPECT_TRUE(has(msg, "model.fusion")) << msg;
  EXPECT_TRUE(has(msg, "hierarchical | multiscale | spot")) << msg;
  msg = refusal("[train]\nepochs = 5\n[train.extra]\nx = 1\n");
  EXPECT_TRUE(has(msg, "[train] extra")) << msg;
  msg = refusal("train = 3\n");
  EXPECT_TRUE(has(msg, "train must be a table")) << msg;
  msg = refusal("[train\n");
  EXPECT_TRUE(has(msg, "line 1")) << msg;
}

TEST(RunConfig, ImpossibleCombinationsAreRefusedBeforeAnyWork) {
  const std::string e2e = "[encoder]\nname = \"resnet18\"\n[train]\nmode = \"end_to_end\"\nensemble = 1\n";
  // The default's image keys would need the trained trunk's features of every training spot.
  std::string msg = refusal(e2e);
  EXPECT_TRUE(has(msg, "predict.keys = \"expression\"")) << msg;
  // ... and the default's stacked predictor a ridge on the cached features, which it does not read.
  msg = refusal(e2e + "[predict]\nkeys = \"expression\"\n");
  EXPECT_TRUE(has(msg, "set predict.predictor = \"retrieval\"")) << msg;
  EXPECT_NO_THROW(parse_run_config_toml(e2e + "[predict]\nkeys = \"expression\"\npredictor = \"retrieval\"\n", "ok.toml"));
  msg = refusal("[train]\nmode = \"end_to_end\"\nensemble = 1\n[predict]\nkeys = \"expression\"\n");
  EXPECT_TRUE(has(msg, "encoder.name")) << msg;  // histo has no trunk to train
  msg = refusal("[encoder]\nname = \"resnet18\"\n[train]\nmode = \"end_to_end\"\n[predict]\nkeys = \"expression\"\n");
  EXPECT_TRUE(has(msg, "train.ensemble")) << msg;
  msg = refusal("[predict]\npredictor = \"regression\"\n");
  EXPECT_TRUE(has(msg, "model.regression_head")) << msg;
  msg = refusal(e2e + "[predict]\nkeys = \"expression\"\npredictor = \"stacked\"\n");
  EXPECT_TRUE(has(msg, "train.mode = \"frozen\"")) << msg;  // the ridge half reads cached features
  EXPECT_NO_THROW(parse_run_config_toml("[predict]\npredictor = \"stacked\"\n", "ok.toml"));
  // float16 is the cache's storage; an end-to-end trunk caches nothing.
  msg = refusal("[encoder]\nname = \"resnet18\"\nfeature_dtype = \"float16\"\n[train]\nmode = \"end_to_end\"\nensemble = 1\n"
                "[predict]\nkeys = \"expression\"\npredictor = \"retrieval\"\n");
  EXPECT_TRUE(has(msg, "encoder.feature_dtype")) << msg;
  msg = refusal("[train]\nmax_memory_gb = -1\n");
  EXPECT_TRUE(has(msg, "train.max_memory_gb")) << msg;
  msg = refusal("[encoder]\nfeature_norm = \"per_slide\"\n");
  EXPECT_TRUE(has(msg, "encoder.feature_norm")) << msg;
  msg = refusal("[encoder]\nfeature_dtype = \"bfloat16\"\n");
  EXPECT_TRUE(has(msg, "float16")) << msg;  // the choices are listed
  msg = refusal("[predict]\nregions = 21\n");
  EXPECT_TRUE(has(msg, "predict.regions")) << msg;
  msg = refusal("[model]\nd_model = 100\nfusion_heads = 8\n");
  EXPECT_TRUE(has(msg, "divisible")) << msg;
  msg = refusal("[encoder]\nname = \"vgg16\"\n");
  EXPECT_TRUE(has(msg, "encoder.name")) << msg;
  msg = refusal("[encoder]\nupsampled_scales = \"224;672\"\n");
  EXPECT_TRUE(has(msg, "upsampled_scales")) << msg;
}

TEST(RunConfig, JsonRoundTripKeepsEveryField) {
  RunConfig c;
  c.name = "x";
  c.encoder.name = "resnet50";
  c.encoder.img_norm = ImageNorm::none;
  c.encoder.spot_fov = 1.5;
  c.model.fusion = Fusion::multiscale;
  c.model.spot_context = SpotContext::spatial;
  c.model.regression_head = true;
  c.train.seed = 123456789012345ull;
  c.train.mode = TrainMode::frozen;
  c.predict.distance = Distance::L2;
  c.predict.key_context = KeyContext::averaged;
  c.predict.weighting = Weighting::softmax;
  c.predict.predictor = PredictorKind::regression;
  c.predict.keys = RetrievalKeys::both;
  c.data.eval_norm = Normalization::per_gene_compat;
  nlohmann::json j = to_json(c);
  EXPECT_EQ(j["model"]["fusion"], "multiscale");
  EXPECT_EQ(j["data"]["eval_norm"], "per_gene_compat");
  RunConfig back = run_config_from_json(j);
  EXPECT_TRUE(back == c) << j.dump(1);
  c.predict.k = 20;
  EXPECT_FALSE(back == c);
  // An old model.json with a misspelt choice is refused naming the key.
  j["predict"]["keys"] = "images";
  std::string msg = test::input_error_of([&] { run_config_from_json(j, "model.json"); });
  EXPECT_TRUE(has(msg, "predict.keys")) << msg;
}

TEST(RunConfig, StageSettingsSeparateTrainingFromPrediction) {
  RunConfig a, b;
  b.predict.k = 20;
  EXPECT_EQ(train_settings(a), train_settings(b));  // a new k reuses the trained model
  EXPECT_NE(predict_settings(a), predict_settings(b));
  b = a;
  b.train.epochs = 3;
  EXPECT_NE(train_settings(a), train_settings(b));
  b = a;
  b.predict.keys = RetrievalKeys::expression;  // keys are computed when the model is made
  EXPECT_NE(train_settings(a), train_settings(b));
  b = a;
  b.encoder.batch_size = 7;  // changes no feature, no model
  EXPECT_EQ(train_settings(a), train_settings(b));
  EXPECT_EQ(embed_settings(a.encoder, 0), embed_settings(b.encoder, 0));
  b = a;
  b.encoder.feature_norm = FeatureNorm::none;  // applied on reading: the same cache, another model
  EXPECT_NE(train_settings(a), train_settings(b));
  EXPECT_EQ(embed_settings(a.encoder, 0), embed_settings(b.encoder, 0));
  // The seed is part of a randomly initialised CNN's features, not of weight-free ones.
  EXPECT_EQ(embed_settings(a.encoder, 0), embed_settings(a.encoder, 1));
  a.encoder.name = "resnet18";
  EXPECT_NE(embed_settings(a.encoder, 0), embed_settings(a.encoder, 1));
  a.encoder.weights = "w.pt";
  EXPECT_EQ(embed_settings(a.encoder, 0), embed_settings(a.encoder, 1));
}

TEST(RunConfig, NearestKeyByEditDistance) {
  EXPECT_EQ(nearest_key("epoch", {"epochs", "lr", "seed"}), "epochs");
  EXPECT_EQ(nearest_key("sed", {"epochs", "lr", "seed"}), "seed");
}

TEST(AtomicOutput, StaleTemporariesOfDeadProcessesAreRemoved) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "folds/C2/model.tmp999999999");  // no such pid
  std::ofstream(dir / "folds/C2/model.tmp999999999/tensors.pt") << "x";
  std::ofstream(dir / "metrics.json.tmp999999998") << "{";
  const std::string mine = "result.json.tmp" + std::to_string(::getpid());
  std::ofstream(dir / mine) << "{";  // this process's own: in use
  std::ofstream(dir / "notes.tmp") << "kept";  // not ours
  EXPECT_EQ(remove_stale_temporaries(dir.path), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "folds/C2/model.tmp999999999"));
  EXPECT_FALSE(std::filesystem::exists(dir / "metrics.json.tmp999999998"));
  EXPECT_TRUE(std::filesystem::exists(dir / mine));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.tmp"));
  EXPECT_TRUE(std::filesystem::exists(dir / "folds/C2"));
}
