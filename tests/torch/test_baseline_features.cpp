// The ridge baselines' design matrices (predict/baseline_features.h).
#include <gtest/gtest.h>

#include <stdexcept>

#include "predict/baseline_features.h"

// Spots on a line at x = 0, 1, 3, 6, 10 (distinct gaps, so each spot's nearest are unambiguous).
TEST(BaselineFeatures, CropsAloneThenContextMeansOfTheNearestSpots) {
  using namespace hiscmcl;
  const std::vector<std::array<double, 2>> xy = {{0, 0}, {1, 0}, {3, 0}, {6, 0}, {10, 0}};
  SectionFeatures f;
  f.level_names = {"spot", "neighbourhood"};
  Matrix spot(5, 2), neigh(5, 2);
  for (int64_t i = 0; i < 5; ++i) {
    spot(i, 0) = float(10 * i), spot(i, 1) = float(i * i);
    neigh(i, 0) = float(-i), neigh(i, 1) = 7.f;
  }
  f.levels = {spot, neigh};

  Matrix crops = baseline_features(xy, f, BaselineInputs::crops);
  ASSERT_EQ(crops.rows, 5);
  ASSERT_EQ(crops.cols, 4);
  EXPECT_FLOAT_EQ(crops(3, 0), 30.f);
  EXPECT_FLOAT_EQ(crops(3, 1), 9.f);
  EXPECT_FLOAT_EQ(crops(3, 2), -3.f);
  EXPECT_FLOAT_EQ(crops(3, 3), 7.f);

  // Spot 3 (x = 6): itself, then x = 3 (gap 3), then x = 10 (gap 4), x = 1 (gap 5).
  Matrix ctx = baseline_features(xy, f, BaselineInputs::crops_and_context, {2, 3});
  ASSERT_EQ(ctx.cols, 8);
  for (int64_t c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(ctx(3, c), crops(3, c));
  EXPECT_FLOAT_EQ(ctx(3, 4), (30.f + 20.f) / 2);           // mean of spots {3, 2}
  EXPECT_FLOAT_EQ(ctx(3, 5), (9.f + 4.f) / 2);
  EXPECT_FLOAT_EQ(ctx(3, 6), (30.f + 20.f + 40.f) / 3);    // {3, 2, 4}
  EXPECT_FLOAT_EQ(ctx(3, 7), (9.f + 4.f + 16.f) / 3);
  // More neighbours than spots: the mean of every spot.
  Matrix all = baseline_features(xy, f, BaselineInputs::crops_and_context, {9, 49});
  EXPECT_FLOAT_EQ(all(0, 4), 20.f);
  EXPECT_FLOAT_EQ(all(4, 7), (0.f + 1 + 4 + 9 + 16) / 5);
  EXPECT_THROW(baseline_features(xy, f, BaselineInputs::crops_and_context, {0, 3}), std::invalid_argument);
}
