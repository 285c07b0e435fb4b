// The ridge half of predict.predictor = "stacked" kept in a model folder (predict/stacked_ridge.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/error.h"
#include "common/atomic_output.h"
#include "predict/stacked_ridge.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

// Two sections whose expression is a linear map of their features plus noise.
struct TwoSections {
  std::vector<PreparedSection> sections;
  std::vector<SectionFeatures> features;
  TrainingSections view() const {
    TrainingSections t;
    for (size_t j = 0; j < sections.size(); ++j) t.sections.push_back(&sections[j]), t.features.push_back(&features[j]);
    return t;
  }
};

TwoSections two_sections(int n_sections = 2) {
  std::mt19937 rng(5);
  std::normal_distribution<float> z(0, 1);
  TwoSections out;
  for (int s = 0; s < n_sections; ++s) {
    const int64_t n = 40, f = 3, g = 4;
    PreparedSection p;
    p.id = "S" + std::to_string(s);
    p.normalization = "per_spot";
    SectionFeatures sf;
    sf.level_names = {"spot", "neighbourhood"};
    Matrix spot(n, f), neigh(n, f), y(n, g);
    for (int64_t i = 0; i < n; ++i) {
      p.pixel_xy.push_back({double(i % 8) * 10, double(i / 8) * 10});
      for (int64_t c = 0; c < f; ++c) spot(i, c) = z(rng), neigh(i, c) = z(rng);
      for (int64_t k = 0; k < g; ++k) y(i, k) = spot(i, k % f) * float(k + 1) - neigh(i, 0) + 0.1f * z(rng);
    }
    sf.levels = {spot, neigh};
    p.expression = y;
    for (int64_t k = 0; k < g; ++k) p.genes.push_back("G" + std::to_string(k));
    out.sections.push_back(p);
    out.features.push_back(sf);
  }
  return out;
}

}  // namespace

TEST(StackedRidge, FittedRidgeRoundTripsThroughTheModelFolder) {
  const TwoSections d = two_sections();
  RunConfig cfg;
  cfg.model.n_neighbours = 3;
  cfg.model.n_global = 5;
  const SectionRidgeData data = section_ridge_data(d.view(), BaselineInputs::crops_and_context, cfg);
  ASSERT_EQ(data.designs.size(), 2u);
  EXPECT_EQ(data.designs[0].cols, 12);  // spot, neighbourhood and two context means, 3 each
  StackedRidge s;
  s.ridge = fit_section_ridge(data, 0);  // alpha by leave-one-section-out over the grid
  EXPECT_NE(std::find(kRidgeAlphas.begin(), kRidgeAlphas.end(), s.ridge.alpha), kRidgeAlphas.end());
  EXPECT_EQ(fit_section_ridge(data, 7.5).alpha, 7.5);
  s.context = {3, 5};
  s.blend = {0.1, 0.9, 0.5, 0.3};
  s.predict_settings = R"({"k":200})";
  test::TempDir tmp;
  save_stacked_ridge(tmp.path, s);
  const auto back = load_stacked_ridge(tmp.path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ridge.alpha, s.ridge.alpha);
  EXPECT_EQ(back->ridge.weights, s.ridge.weights);
  EXPECT_EQ(back->ridge.x_mean, s.ridge.x_mean);
  EXPECT_EQ(back->ridge.x_scale, s.ridge.x_scale);
  EXPECT_EQ(back->ridge.y_mean, s.ridge.y_mean);
  EXPECT_EQ(back->context.n_neighbours, 3);
  EXPECT_EQ(back->context.n_global, 5);
  EXPECT_EQ(back->blend, s.blend);
  EXPECT_EQ(back->predict_settings, s.predict_settings);
  // The reloaded ridge predicts a section exactly as the fitted one.
  const Matrix retrieval = d.sections[1].expression;
  const GeneBlend half{std::vector<double>(4, 0.5)};
  const Matrix a = stack_prediction(s, half, retrieval, d.sections[1].pixel_xy, d.features[1]);
  const Matrix b = stack_prediction(*back, half, retrieval, d.sections[1].pixel_xy, d.features[1]);
  EXPECT_EQ(a.data, b.data);
  // A weight of 1 on retrieval gives retrieval back.
  const Matrix one = stack_prediction(s, GeneBlend{std::vector<double>(4, 1.0)}, retrieval, d.sections[1].pixel_xy,
                                      d.features[1]);
  for (size_t i = 0; i < one.data.size(); ++i) EXPECT_NEAR(one.data[i], retrieval.data[i], 1e-4);

  EXPECT_FALSE(load_stacked_ridge(tmp.path / "elsewhere"));  // no ridge.h5: a model from before it
  fs::create_directories(tmp.path / "bad");
  write_text_file(tmp.path / "bad" / "ridge.h5", "not hdf5");
  const std::string msg = test::input_error_of([&] { load_stacked_ridge(tmp.path / "bad"); });
  EXPECT_NE(msg.find("ridge.h5"), std::string::npos) << msg;
}

TEST(StackedRidge, TheBlendIsTheFixedWeightOrTheFittedOneOfTheSameGenes) {
  StackedRidge s;
  PredictConfig p;
  p.stack_weight = 0.25;
  auto fixed = stack_blend(s, p, 3);
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->weight, std::vector<double>(3, 0.25));
  p.stack_weight = -1;
  EXPECT_FALSE(stack_blend(s, p, 3));  // fitted asked for, none kept
  s.blend = {0.2, 0.4, 0.6};
  ASSERT_TRUE(stack_blend(s, p, 3));
  EXPECT_EQ(stack_blend(s, p, 3)->weight, s.blend);
  EXPECT_FALSE(stack_blend(s, p, 4));  // another panel
}

TEST(StackedRidge, OneTrainingSectionFitsAtTheFallbackAlpha) {
  const TwoSections d = two_sections(1);
  RunConfig cfg;
  const SectionRidgeData data = section_ridge_data(d.view(), BaselineInputs::crops, cfg);
  EXPECT_EQ(fit_section_ridge(data, 0).alpha, 100);
  // The negative control shuffles each section's targets over its spots: the same rows, reordered.
  cfg.train.permute_pairs = true;
  const SectionRidgeData shuffled = section_ridge_data(d.view(), BaselineInputs::crops, cfg);
  EXPECT_EQ(shuffled.designs[0].data, data.designs[0].data);
  EXPECT_NE(shuffled.targets[0].data, data.targets[0].data);
  auto sorted = [](std::vector<float> v) { std::sort(v.begin(), v.end()); return v; };
  EXPECT_EQ(sorted(shuffled.targets[0].data), sorted(data.targets[0].data));
}
