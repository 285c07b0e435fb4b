// HisCMCL model: the checks of METHOD.md §6–7 (loss example, batch-attention permutation property,
// multi-scale S = 1 reduction), batch independence of the spatial spot context, a bit-exact
// save/load round trip, training that lowers the loss, and features read in float16 or streamed
// from the cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstring>

#include "eval/metrics.h"
#include "io/npy.h"
#include "model/hiscmcl_model.h"
#include "predict/predictor.h"
#include "predict/retrieval_predictor.h"
#include "predict/stacked_ridge.h"
#include "small_model.h"
#include "test_util.h"
#include "train/model_bundle.h"
#include "train/trainer.h"

using namespace hiscmcl;

namespace {

RunConfig small_config(const std::string& fusion, const std::string& context) {
  return test::small_model_config(fusion, context);
}

// A small section whose expression is a fixed function of its image features plus noise.
struct ToySet {
  std::vector<PreparedSection> sections;
  std::vector<SectionFeatures> features;
};

ToySet toy_set(int n_sections, int side, int64_t dim, int64_t genes, uint64_t seed) {
  torch::manual_seed(seed);
  auto w = torch::randn({dim, genes});
  ToySet t;
  for (int s = 0; s < n_sections; ++s) {
    PreparedSection p;
    p.id = "T" + std::to_string(s);
    p.normalization = "per_spot";
    for (int64_t g = 0; g < genes; ++g) p.genes.push_back("G" + std::to_string(g));
    int n = side * side;
    auto f = torch::randn({n, dim});
    auto e = torch::relu(torch::matmul(f, w) + 0.3 * torch::randn({n, genes}));
    p.expression = to_matrix(e);
    for (int i = 0; i < n; ++i) {
      p.spot_ids.push_back(std::to_string(i % side) + "x" + std::to_string(i / side));
      p.array_xy.push_back({double(i % side), double(i / side)});
      p.pixel_xy.push_back({100.0 * (i % side), 100.0 * (i / side)});
    }
    p.image.spot_diameter_px = 50;
    SectionFeatures sf;
    sf.level_names = {"spot", "neighbourhood"};
    sf.levels = {to_matrix(f), to_matrix(f * 0.5 + 0.1 * torch::randn({n, dim}))};
    t.sections.push_back(p);
    t.features.push_back(sf);
  }
  return t;
}

std::vector<const PreparedSection*> ptrs(const ToySet& t) {
  std::vector<const PreparedSection*> v;
  for (auto& s : t.sections) v.push_back(&s);
  return v;
}

}  // namespace

TEST(ContrastiveLoss, SpecWorkedExample) {
  // Spec §4: S = [[1,0],[1,1]], I = [[2,0],[0,1]], tau = 1 -> 0.611650.
  auto s = torch::tensor({{1.f, 0.f}, {1.f, 1.f}});
  auto i = torch::tensor({{2.f, 0.f}, {0.f, 1.f}});
  auto loss = contrastive_loss(s, i, torch::zeros({}));
  EXPECT_NEAR(loss.item<double>(), 0.611650, 1e-6);
  // Temperature 0.5 doubles the logits: recompute by hand from [[4,0],[4,2]].
  auto l2 = contrastive_loss(s, i, torch::full({}, std::log(2.0)));
  double spot = 0.5 * ((std::log(std::exp(4.) + 1.) - 4.) + (std::log(std::exp(4.) + std::exp(2.)) - 2.));
  double img = 0.5 * ((std::log(std::exp(4.) + std::exp(4.)) - 4.) + (std::log(1. + std::exp(2.)) - 2.));
  EXPECT_NEAR(l2.item<double>(), 0.5 * (spot + img), 1e-5);
}

TEST(SpotBranch, BatchContextIsPermutationEquivariantAndBatchDependent) {
  torch::manual_seed(0);
  RunConfig c = small_config("spot", "batch");
  SpotBranch branch(12, 10, 10, c.model);
  branch->eval();
  torch::NoGradGuard ng;
  auto expr = torch::rand({1, 6, 12});
  auto xy = torch::randint(0, 10, {1, 6, 2}, torch::kInt64);
  auto out = branch->forward(expr, xy);
  auto perm = torch::tensor({3, 0, 5, 1, 4, 2}, torch::kInt64);
  auto out_p = branch->forward(expr.index_select(1, perm), xy.index_select(1, perm));
  EXPECT_TRUE(torch::allclose(out_p, out.index_select(1, perm), 1e-5, 1e-6));
  // Changing one spot's expression changes the other spots' embeddings (METHOD.md §9.4).
  auto expr2 = expr.clone();
  expr2[0][5] = torch::rand({12}) * 3;  // not a constant shift, which LayerNorm would remove
  auto out2 = branch->forward(expr2, xy);
  EXPECT_GT((out2[0][0] - out[0][0]).abs().max().item<float>(), 1e-4);
}

TEST(SpotBranch, SpatialContextDoesNotDependOnTheBatch) {
  ToySet t = toy_set(1, 5, 8, 12, 1);
  RunConfig c = small_config("spot", "spatial");
  torch::manual_seed(0);
  FeatureStats st = fit_feature_stats(t.features);
  FeatureTensors ft = build_feature_tensors(ptrs(t), t.features, st, c, true);
  ModelShape shape{8, 2, 12, 10, 10};
  HisCMCLModel model(shape, c);
  auto all = spot_embeddings(model, ft, c);  // chunks of 256
  c.predict.key_chunk = 3;
  // Embed spot 7 alone, and within a different batch: identical.
  torch::NoGradGuard ng;
  auto ctx = ft.context.index_select(0, torch::tensor({7}, torch::kInt64));
  auto e = ft.expression.index_select(0, ctx.flatten()).view({1, ctx.size(1), -1});
  auto xy = ft.xy.index_select(0, ctx.flatten()).view({1, ctx.size(1), 2});
  auto alone = model->spot_embedding(e, xy).select(1, 0);
  EXPECT_TRUE(torch::allclose(alone[0], all[7], 1e-5, 1e-6));
}

TEST(ImageBranch, MultiscaleWithOneScaleIsLinearLayerNormRelu) {
  torch::manual_seed(0);
  RunConfig c = small_config("multiscale", "batch");
  ImageBranch branch(6, 1, c.model);
  branch->eval();
  torch::NoGradGuard ng;
  ImageInputs in;
  in.scales = torch::randn({4, 1, 6});
  in.index = torch::arange(4, torch::kInt64);
  auto fused = branch->fuse(in);
  auto params = branch->named_parameters();
  auto lin = torch::matmul(in.scales.squeeze(1), params["fusion.weight"].t()) + params["fusion.bias"];
  auto expected = torch::relu(torch::layer_norm(lin, {6}, params["fusion_norm.weight"], params["fusion_norm.bias"]));
  EXPECT_TRUE(torch::allclose(fused, expected, 1e-5, 1e-6));
}

TEST(ImageBranch, HierarchicalTokensSharedOrNotGiveTheSameAnswer) {
  // The branch projects each distinct table row once; the result must equal attention written
  // out per spot with gathered tokens.
  torch::manual_seed(0);
  RunConfig c = small_config("hierarchical", "batch");
  ImageBranch branch(6, 2, c.model);
  branch->eval();
  torch::NoGradGuard ng;
  ImageInputs in;
  in.table = torch::randn({10, 6});
  in.index = torch::tensor({2, 7}, torch::kInt64);
  in.neighbours = torch::tensor({{2, 3, 1}, {7, 6, 8}}, torch::kInt64);
  in.global = torch::tensor({{2, 3, 1, 0, 4}, {7, 6, 8, 9, 5}}, torch::kInt64);
  in.neighbourhood = torch::randn({2, 6});
  auto fused = branch->fuse(in);
  auto p = branch->named_parameters();
  auto tok = [&](const torch::Tensor& x) {
    return torch::layer_norm(torch::matmul(x, p["token_proj.weight"].t()) + p["token_proj.bias"], {32},
                             p["token_norm.weight"], p["token_norm.bias"]);
  };
  auto mha = [&](const std::string& pre, const torch::Tensor& q, const torch::Tensor& kv) {
    auto lin = [&](const std::string& n, const torch::Tensor& x) {
      return torch::matmul(x, p[pre + "." + n + ".weight"].t()) + p[pre + "." + n + ".bias"];
    };
    auto Q = lin("q_proj", q).view({1, 4, 8}).transpose(0, 1);   // [h, 1, 8]
    auto K = lin("k_proj", kv).view({-1, 4, 8}).transpose(0, 1);  // [h, T, 8]
    auto V = lin("v_proj", kv).view({-1, 4, 8}).transpose(0, 1);
    auto a = torch::softmax(torch::matmul(Q, K.transpose(1, 2)) / std::sqrt(8.0), -1);
    return lin("out_proj", torch::matmul(a, V).transpose(0, 1).reshape({1, 32}));
  };
  for (int b = 0; b < 2; ++b) {
    auto q = tok(in.table[in.index[b].item<int64_t>()].unsqueeze(0));
    auto nb = torch::cat({tok(in.neighbourhood[b].unsqueeze(0)), tok(in.table.index_select(0, in.neighbours[b]))});
    auto gl = tok(in.table.index_select(0, in.global[b]));
    auto f = torch::layer_norm(q + mha("neighbourhood_attn", q, nb) + mha("global_attn", q, gl), {32},
                               p["fused_norm.weight"], p["fused_norm.bias"]);
    EXPECT_TRUE(torch::allclose(fused[b], f[0], 1e-4, 1e-5)) << "spot " << b;
  }
}

TEST(Training, LossFallsAndSaveLoadIsBitExact) {
  ToySet t = toy_set(2, 8, 10, 16, 3);
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 60;
  c.train.batch_size = 32;
  c.train.accumulation = 1;
  c.train.lr = 1e-3;
  c.loss.l2_normalize = true;
  c.loss.temperature = 0.1;
  c.predict.k = 5;
  TrainResult r = train_frozen(ptrs(t), t.features, c);
  ASSERT_EQ(r.log.size(), 60u);  // 120 spots, batch 32: 4 steps an epoch, 240 steps
  EXPECT_LT(r.log.back().loss, 0.6 * r.log.front().loss);

  test::TempDir dir;
  save_model_bundle(dir.path, r.bundle);
  ModelBundle b = load_model_bundle(dir.path);
  EXPECT_EQ(b.genes, r.bundle.genes);
  EXPECT_TRUE(torch::equal(b.key_embeddings, r.bundle.key_embeddings));
  FeatureTensors ft = build_feature_tensors(ptrs(t), t.features, b.stats, b.config, true);
  auto before = image_embeddings(r.bundle.model, ft, c);
  auto after = image_embeddings(b.model, ft, b.config);
  EXPECT_TRUE(torch::equal(before, after));
  EXPECT_TRUE(torch::equal(spot_embeddings(r.bundle.model, ft, c), spot_embeddings(b.model, ft, b.config)));
}

TEST(Training, FixedSeedGivesIdenticalModels) {
  ToySet t = toy_set(2, 6, 8, 12, 5);
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 5;
  c.train.batch_size = 16;
  TrainResult a = train_frozen(ptrs(t), t.features, c);
  TrainResult b = train_frozen(ptrs(t), t.features, c);
  EXPECT_TRUE(torch::equal(a.bundle.key_embeddings, b.bundle.key_embeddings));
  EXPECT_EQ(a.log.back().loss, b.log.back().loss);
}

TEST(Training, RegressionHeadLearnsTheExpressionOfHeldOutSpots) {
  // Expression is relu(features x W) + noise: the head must predict held-out spots well, and
  // much better than with the expression shuffled against the images.
  ToySet t = toy_set(3, 8, 10, 12, 11);
  RunConfig c = small_config("spot", "batch");
  c.model.regression_head = true;
  c.loss.regression_weight = 1.0;
  c.predict.predictor = PredictorKind::regression;
  c.train.epochs = 80;
  c.train.batch_size = 32;
  c.train.accumulation = 1;
  c.train.lr = 3e-3;
  std::vector<const PreparedSection*> train = {&t.sections[0], &t.sections[1]};
  std::vector<SectionFeatures> feats = {t.features[0], t.features[1]};
  auto mean_pcc = [&](const RunConfig& cfg) {
    TrainResult r = train_frozen(train, feats, cfg);
    auto p = make_predictor(r.bundle, cfg.predict, std::nullopt, "test");  // the regression head
    Matrix y = p->predict(t.sections[2].pixel_xy, t.features[2]).mean;
    return evaluate_section(y, t.sections[2].expression).acg;
  };
  double real = mean_pcc(c);
  EXPECT_GT(real, 0.7);
  c.train.permute_pairs = true;
  double shuffled = mean_pcc(c);
  EXPECT_LT(shuffled, 0.3);
  EXPECT_GT(real - shuffled, 0.5);

  // The head is part of the saved model.
  c.train.permute_pairs = false;
  c.train.epochs = 2;
  TrainResult r = train_frozen(train, feats, c);
  test::TempDir dir;
  save_model_bundle(dir.path, r.bundle);
  ModelBundle b = load_model_bundle(dir.path);
  ASSERT_TRUE(b.model->has_regression_head());
  auto pa = make_predictor(r.bundle, c.predict, std::nullopt, "trained");
  auto pb = make_predictor(b, c.predict, std::nullopt, "loaded");
  EXPECT_EQ(pa->predict(t.sections[2].pixel_xy, t.features[2]).mean.data,
            pb->predict(t.sections[2].pixel_xy, t.features[2]).mean.data);
}

TEST(SpotBranch, AveragedKeysMatchOneWholeChunkAndAverageSmallOnes) {
  ToySet t = toy_set(2, 5, 8, 12, 4);  // 50 spots
  RunConfig c = small_config("spot", "batch");
  torch::manual_seed(0);
  FeatureStats st = fit_feature_stats(t.features);
  FeatureTensors ft = build_feature_tensors(ptrs(t), t.features, st, c, true);
  HisCMCLModel model(ModelShape{8, 2, 12, 10, 10}, c);
  // One chunk holding every spot: the batch attention is permutation-equivariant, so any
  // shuffling, averaged or not, gives the compat keys.
  c.predict.key_chunk = 64;
  c.predict.key_context = KeyContext::compat;
  auto whole = spot_embeddings(model, ft, c);
  c.predict.key_context = KeyContext::averaged;
  c.predict.key_rounds = 3;
  auto averaged_whole = spot_embeddings(model, ft, c);
  EXPECT_LT((whole - averaged_whole).abs().max().item<double>(), 1e-5);
  // Chunks of 8: the keys depend on the chunk; the average of 16 random chunkings lies nearer
  // the whole-set keys than one section-ordered chunking does, and repeats exactly.
  c.predict.key_chunk = 8;
  c.predict.key_context = KeyContext::compat;
  auto ordered = spot_embeddings(model, ft, c);
  c.predict.key_context = KeyContext::averaged;
  c.predict.key_rounds = 16;
  auto avg = spot_embeddings(model, ft, c);
  EXPECT_TRUE(torch::equal(avg, spot_embeddings(model, ft, c)));
  double d_ordered = (ordered - whole).norm().item<double>(), d_avg = (avg - whole).norm().item<double>();
  EXPECT_GT(d_ordered, 1e-3);
  EXPECT_LT(d_avg, d_ordered);
}

TEST(Training, EnsembleAveragesItsMembersAndSurvivesSaveLoad) {
  ToySet t = toy_set(3, 6, 8, 12, 9);
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 3;
  c.train.batch_size = 16;
  c.predict.k = 5;
  std::vector<const PreparedSection*> train = {&t.sections[0], &t.sections[1]};
  std::vector<SectionFeatures> feats = {t.features[0], t.features[1]};
  RunConfig one = c;
  TrainResult seed0 = train_frozen(train, feats, one);
  one.train.seed = 1;
  TrainResult seed1 = train_frozen(train, feats, one);
  c.train.ensemble = 2;
  TrainResult ens = train_frozen(train, feats, c);
  ASSERT_EQ(ens.bundle.members.size(), 1u);
  // Member 0 is the seed-0 model, member 1 the seed-1 model; the log is their mean loss. Members
  // train side by side, a thread each: equal to float rounding, not always in bytes (LibTorch 2.6
  // on Debian 13 rounds the last bits otherwise; METHOD 7.7).
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<double>() / std::max(a.abs().max().item<double>(), 1e-12);
  };
  EXPECT_LT(rel(ens.bundle.key_embeddings, seed0.bundle.key_embeddings), 1e-4);
  EXPECT_LT(rel(ens.bundle.members[0].key_embeddings, seed1.bundle.key_embeddings), 1e-4);
  EXPECT_GT(rel(seed0.bundle.key_embeddings, seed1.bundle.key_embeddings), 1e-2);
  EXPECT_NEAR(ens.log.back().loss, 0.5 * (seed0.log.back().loss + seed1.log.back().loss),
              1e-6 * std::abs(ens.log.back().loss));

  const auto& q = t.sections[2];
  Matrix y0 = RetrievalPredictor(seed0.bundle, seed0.bundle.config.predict).predict(q.pixel_xy, t.features[2]).mean;
  Matrix y1 = RetrievalPredictor(seed1.bundle, seed1.bundle.config.predict).predict(q.pixel_xy, t.features[2]).mean;
  Matrix y = RetrievalPredictor(ens.bundle, ens.bundle.config.predict).predict(q.pixel_xy, t.features[2]).mean;
  ASSERT_EQ(y.data.size(), y0.data.size());
  for (size_t i = 0; i < y.data.size(); ++i) ASSERT_NEAR(y.data[i], 0.5f * (y0.data[i] + y1.data[i]), 1e-4);

  test::TempDir dir;
  save_model_bundle(dir.path, ens.bundle);
  ModelBundle b = load_model_bundle(dir.path);
  ASSERT_EQ(b.members.size(), 1u);
  EXPECT_EQ(b.config.train.ensemble, 2);
  EXPECT_EQ(RetrievalPredictor(b, b.config.predict).predict(q.pixel_xy, t.features[2]).mean.data, y.data);
}

TEST(Training, RetrievalKeysAreTheChosenEmbeddings) {
  // predict.keys: the query image embedding is compared with the training spots' expression
  // embeddings (paper), their image embeddings, or the sum of the two unit vectors.
  ToySet t = toy_set(2, 5, 8, 12, 13);
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 2;
  c.train.batch_size = 16;
  c.predict.key_context = KeyContext::compat;
  TrainResult expr = train_frozen(ptrs(t), t.features, c);
  FeatureTensors ft = build_feature_tensors(ptrs(t), t.features, expr.bundle.stats, c, true);
  auto spot = spot_embeddings(expr.bundle.model, ft, c);
  auto image = image_embeddings(expr.bundle.model, ft, c);
  EXPECT_TRUE(torch::allclose(expr.bundle.key_embeddings, spot, 1e-5, 1e-6));

  c.predict.keys = RetrievalKeys::image;
  TrainResult img = train_frozen(ptrs(t), t.features, c);
  EXPECT_TRUE(torch::allclose(img.bundle.key_embeddings, image, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(img.bundle.key_embeddings, spot, 1e-3, 1e-3));

  c.predict.keys = RetrievalKeys::both;
  TrainResult both = train_frozen(ptrs(t), t.features, c);
  auto unit = [](const torch::Tensor& e) { return e / e.norm(2, 1, true); };
  EXPECT_TRUE(torch::allclose(both.bundle.key_embeddings, unit(spot) + unit(image), 1e-5, 1e-6));

  // The choice is saved with the model, and a misspelt one is refused naming the key.
  test::TempDir dir;
  save_model_bundle(dir.path, both.bundle);
  EXPECT_EQ(load_model_bundle(dir.path).config.predict.keys, RetrievalKeys::both);
  nlohmann::json j = to_json(c);
  j["predict"]["keys"] = "images";
  std::string msg = test::input_error_of([&] { run_config_from_json(j); });
  EXPECT_NE(msg.find("predict.keys"), std::string::npos) << msg;
}

TEST(Half, MatchesLibTorchBitForBit) {
  // float_to_half / half_to_float (the cache's float16) against LibTorch's kHalf, over normal,
  // subnormal and overflowing magnitudes.
  torch::manual_seed(4);
  auto x = torch::randn({200000}) * torch::pow(2.0, torch::randint(-30, 18, {200000}).to(torch::kFloat32));
  auto h = x.to(torch::kHalf).contiguous();
  const float* xp = x.data_ptr<float>();
  const uint16_t* hp = reinterpret_cast<const uint16_t*>(h.data_ptr());
  auto back = h.to(torch::kFloat32);
  const float* bp = back.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(float_to_half(xp[i]), hp[i]) << xp[i];
    const float mine = half_to_float(hp[i]);
    ASSERT_EQ(std::memcmp(&bp[i], &mine, 4), 0) << hp[i];
  }
}

namespace {

// t's features written to dir as the cache stores them (dtype) and mapped back.
std::vector<SectionFeatures> cached_copy(const ToySet& t, const std::filesystem::path& dir, FeatureDtype dtype) {
  std::vector<SectionFeatures> out;
  for (size_t s = 0; s < t.features.size(); ++s) {
    SectionFeatures f;
    f.level_names = t.features[s].level_names;
    for (size_t l = 0; l < f.level_names.size(); ++l) {
      const auto file = dir / (t.sections[s].id + "." + f.level_names[l] + ".npy");
      write_npy_features(file, t.features[s].levels[l].to_matrix(), dtype);
      f.levels.push_back(map_npy_features(file));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

TEST(Training, StreamedFeaturesTrainTheSameModelAsResidentOnes) {
  // Past train.max_memory_gb the image rows are read from the (mapped) cache on demand instead
  // of copied into one table: the same rows, standardised the same way, so the same model, bit
  // for bit, in float32 and float16 alike, for each fusion.
  ToySet t = toy_set(3, 6, 8, 12, 9);
  test::TempDir dir;
  for (FeatureDtype dtype : {FeatureDtype::float32, FeatureDtype::float16}) {
    const auto sub = dir / choice_name(dtype);
    std::filesystem::create_directories(sub);
    for (FeatureNorm norm : {FeatureNorm::none, FeatureNorm::per_section}) {
    std::vector<SectionFeatures> cached = cached_copy(t, sub, dtype);
    // per_section: mapped files read through a standardisation, resident tables widened to float32.
    for (auto& f : cached) apply_feature_norm(f, norm, "toy");
    for (const char* fusion : {"hierarchical", "multiscale", "spot"}) {
      RunConfig c = small_config(fusion, "batch");
      c.encoder.feature_dtype = dtype;
      c.train.ensemble = 2;  // two members reading one shared streamed level side by side
      c.train.epochs = 3;
      c.train.batch_size = 16;
      RunConfig streamed = c;
      streamed.train.max_memory_gb = 1e-9;
      const FeatureStats st = fit_feature_stats(cached);
      EXPECT_FALSE(build_feature_tensors(ptrs(t), cached, st, c, true).spot.streamed());
      EXPECT_TRUE(build_feature_tensors(ptrs(t), cached, st, streamed, true).spot.streamed());
      TrainResult a = train_frozen(ptrs(t), cached, c);
      TrainResult b = train_frozen(ptrs(t), cached, streamed);
      EXPECT_TRUE(torch::equal(a.bundle.key_embeddings, b.bundle.key_embeddings))
          << fusion << " " << choice_name(dtype) << " " << choice_name(norm);
      EXPECT_EQ(a.log.back().loss, b.log.back().loss) << fusion;
    }
    }
  }
}

TEST(Training, PerSectionFeaturesIgnoreASectionsStainShift) {
  // A section whose features are all scaled and shifted (another scanner, another stain batch)
  // trains the same model under encoder.feature_norm = "per_section", and a different one without.
  ToySet t = toy_set(3, 6, 8, 12, 9);
  std::vector<SectionFeatures> shifted = t.features;
  for (FeatureMatrix& m : shifted[1].levels) {
    Matrix v = m.to_matrix();
    for (int64_t r = 0; r < v.rows; ++r)
      for (int64_t c = 0; c < v.cols; ++c) v(r, c) = 2.5f * v(r, c) + 3.0f + 0.25f * float(c);
    m = FeatureMatrix(std::move(v));
  }
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 3;
  c.train.batch_size = 16;
  auto train = [&](std::vector<SectionFeatures> f, FeatureNorm norm) {
    for (auto& s : f) apply_feature_norm(s, norm, "toy");
    return train_frozen(ptrs(t), f, c).bundle.key_embeddings;
  };
  const torch::Tensor plain = train(t.features, FeatureNorm::per_section);
  const torch::Tensor moved = train(shifted, FeatureNorm::per_section);
  EXPECT_LT((plain - moved).abs().max().item<float>(), 1e-4);
  EXPECT_GT((train(t.features, FeatureNorm::none) - train(shifted, FeatureNorm::none)).abs().max().item<float>(), 1e-2);
}

TEST(Training, Float16FeaturesTrainNearlyTheSameModel) {
  // float16 keeps ~3 significant digits of a standardised feature: the statistics agree to that,
  // and the model trained on them embeds the spots nearly as the float32 one does.
  ToySet t = toy_set(2, 8, 10, 16, 3);
  test::TempDir dir;
  const auto full = t.features, half = cached_copy(t, dir.path, FeatureDtype::float16);
  const FeatureStats sf = fit_feature_stats(full), sh = fit_feature_stats(half);
  EXPECT_LT((sf.mean[0] - sh.mean[0]).abs().max().item<float>(), 2e-3);
  EXPECT_LT(((sf.sd[0] - sh.sd[0]) / sf.sd[0]).abs().max().item<float>(), 2e-3);
  RunConfig c = small_config("hierarchical", "batch");
  c.train.epochs = 4;
  c.train.batch_size = 32;
  TrainResult a = train_frozen(ptrs(t), full, c);
  c.encoder.feature_dtype = FeatureDtype::float16;
  TrainResult b = train_frozen(ptrs(t), half, c);
  EXPECT_FALSE(torch::equal(a.bundle.key_embeddings, b.bundle.key_embeddings));  // the rounding reached the model
  namespace F = torch::nn::functional;
  auto cos = F::cosine_similarity(a.bundle.key_embeddings, b.bundle.key_embeddings, F::CosineSimilarityFuncOptions().dim(1));
  EXPECT_GT(cos.min().item<float>(), 0.99f);
  EXPECT_NEAR(a.log.back().loss, b.log.back().loss, 1e-2 * a.log.back().loss);
}
