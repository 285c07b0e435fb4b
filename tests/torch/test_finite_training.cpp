// Finite or refused, for training and trained models: training stops at the first non-finite loss
// with an InputError naming the epoch and the likely cause, and a model folder whose weights
// (model.pt, tensors.pt) or ridge (ridge.h5) hold NaN is refused by the loader naming the file.
// Before, each gave a model that predicted NaN for every spot, with exit 0.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "common/error.h"
#include "predict/stacked_ridge.h"
#include "small_model.h"
#include "test_util.h"
#include "train/epoch_loop.h"
#include "train/model_bundle.h"
#include "train/trainer.h"

using namespace hiscmcl;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Two 6x6 sections whose expression follows their random features.
struct Toy {
  std::vector<PreparedSection> sections;
  std::vector<SectionFeatures> features;
  std::vector<const PreparedSection*> ptrs() const {
    std::vector<const PreparedSection*> out;
    for (auto& s : sections) out.push_back(&s);
    return out;
  }
};

Toy toy() {
  torch::manual_seed(5);
  const int side = 6, n = side * side;
  const int64_t dim = 6, genes = 8;
  auto w = torch::randn({dim, genes});
  Toy t;
  for (int s = 0; s < 2; ++s) {
    PreparedSection p;
    p.id = "T" + std::to_string(s);
    p.normalization = "per_spot";
    for (int64_t g = 0; g < genes; ++g) p.genes.push_back("G" + std::to_string(g));
    auto f = torch::randn({n, dim});
    p.expression = to_matrix(torch::relu(torch::matmul(f, w)));
    for (int i = 0; i < n; ++i) {
      p.spot_ids.push_back(std::to_string(i % side) + "x" + std::to_string(i / side));
      p.array_xy.push_back({double(i % side), double(i / side)});
      p.pixel_xy.push_back({100.0 * (i % side), 100.0 * (i / side)});
    }
    p.image.spot_diameter_px = 50;
    SectionFeatures sf;
    sf.level_names = {"spot", "neighbourhood"};
    sf.levels = {to_matrix(f), to_matrix(f * 0.5)};
    t.sections.push_back(p);
    t.features.push_back(sf);
  }
  return t;
}

RunConfig toy_config() {
  RunConfig c = test::small_model_config("hierarchical", "batch");
  c.train.epochs = 2;
  c.train.batch_size = 16;
  c.predict.k = 5;
  return c;
}

}  // namespace

TEST(FiniteTraining, NonFiniteFeaturesStopTrainingAtTheFirstBatch) {
  Toy t = toy();
  Matrix f = t.features[1].levels[0].to_matrix();
  f(4, 2) = kNaN;
  t.features[1].levels[0] = f;
  const std::string msg = test::input_error_of([&] { train_frozen(t.ptrs(), t.features, toy_config()); });
  EXPECT_TRUE(has(msg, "the loss is nan") || has(msg, "the loss is -nan")) << msg;  // fmt's sign varies
  EXPECT_TRUE(has(msg, "epoch 1 of 2, batch 1 of")) << msg;
  EXPECT_TRUE(has(msg, "training inputs hold non-finite values")) << msg;
}

TEST(FiniteTraining, LossTurningNonFiniteNamesTheEpochAndTheLearningRate) {
  // The loop alone: a loss that turns NaN in epoch 2, after optimiser steps, points at train.lr.
  torch::manual_seed(1);
  torch::nn::Linear lin(3, 1);
  torch::optim::Adam opt(lin->parameters(), torch::optim::AdamOptions(0.5));
  EpochLoopSpec spec{"train", 3, 1, 8, 4, 2};
  spec.batch_loss = [&](const torch::Tensor&, int epoch) {
    auto loss = lin->forward(torch::ones({1, 3})).sum();
    return epoch == 2 ? loss * kNaN : loss;
  };
  spec.inputs_finite = [] { return true; };
  const std::string msg = test::input_error_of([&] { run_epoch_loop(opt, spec); });
  EXPECT_TRUE(has(msg, "train (epoch 2 of 3, batch 1 of 2)")) << msg;
  EXPECT_TRUE(has(msg, "train.lr = 0.5 is likely too large")) << msg;
}

TEST(FiniteModelFolder, NonFiniteWeightsAreRefusedNamingTheFile) {
  Toy t = toy();
  TrainResult r = train_frozen(t.ptrs(), t.features, toy_config());
  test::TempDir dir;

  // model.pt: one weight NaN.
  ModelBundle b = r.bundle;
  {
    torch::NoGradGuard no_grad;
    b.model = HisCMCLModel(b.shape, b.config);
    auto src = r.bundle.model->named_parameters(true);
    for (auto& p : b.model->named_parameters(true)) p.value().copy_(src[p.key()]);
    b.model->parameters().front().view(-1)[0] = kNaN;
  }
  save_model_bundle(dir / "nan_weights", b);
  std::string msg = test::input_error_of([&] { load_model_bundle(dir / "nan_weights"); });
  EXPECT_TRUE(has(msg, (dir / "nan_weights" / "model.pt").string())) << msg;
  EXPECT_TRUE(has(msg, "non-finite")) << msg;

  // tensors.pt: a retrieval key NaN.
  ModelBundle k = r.bundle;
  k.key_embeddings = r.bundle.key_embeddings.clone();
  k.key_embeddings[0][0] = kNaN;
  save_model_bundle(dir / "nan_keys", k);
  msg = test::input_error_of([&] { load_model_bundle(dir / "nan_keys"); });
  EXPECT_TRUE(has(msg, (dir / "nan_keys" / "tensors.pt").string())) << msg;
  EXPECT_TRUE(has(msg, "retrieval keys")) << msg;

  // The untouched model still loads.
  save_model_bundle(dir / "good", r.bundle);
  EXPECT_NO_THROW(load_model_bundle(dir / "good"));
}

TEST(FiniteModelFolder, NonFiniteRidgeIsRefusedNamingFileAndDataset) {
  StackedRidge s;
  s.ridge.alpha = 10;
  s.ridge.n_features = 2;
  s.ridge.n_targets = 1;
  s.ridge.x_mean = {0, 0};
  s.ridge.x_scale = {1, 1};
  s.ridge.y_mean = {0};
  s.ridge.weights = {1, std::numeric_limits<double>::infinity()};
  s.context = {3, 5};
  s.predict_settings = "{}";
  test::TempDir dir;
  save_stacked_ridge(dir.path, s);
  const std::string msg = test::input_error_of([&] { load_stacked_ridge(dir.path); });
  EXPECT_TRUE(has(msg, (dir / "ridge.h5").string())) << msg;
  EXPECT_TRUE(has(msg, "weights")) << msg;
  EXPECT_TRUE(has(msg, "non-finite")) << msg;

  s.ridge.weights = {1, 2};
  save_stacked_ridge(dir.path, s);
  EXPECT_NO_THROW(load_stacked_ridge(dir.path));
}
