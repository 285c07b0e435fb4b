// The stated spot diameter against the spots' own spacing (io/spot_spacing.h): the median
// nearest-neighbour distance, the decision, and the readers' warning.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "io/manifest.h"
#include "io/section_reader.h"
#include "io/spot_spacing.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {

using Points = std::vector<std::array<double, 2>>;

Points grid(int cols, int rows, double pitch, bool hex) {
  Points p;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      p.push_back({c * pitch + (hex && r % 2 ? pitch / 2 : 0), r * pitch * (hex ? std::sqrt(3.0) / 2 : 1)});
  return p;
}

double brute_force_median(const Points& xy) {
  std::vector<double> nn;
  for (size_t i = 0; i < xy.size(); ++i) {
    double best = INFINITY;
    for (size_t j = 0; j < xy.size(); ++j) {
      double d = std::hypot(xy[i][0] - xy[j][0], xy[i][1] - xy[j][1]);
      if (i != j && d > 0) best = std::min(best, d);
    }
    if (std::isfinite(best)) nn.push_back(best);
  }
  std::nth_element(nn.begin(), nn.begin() + nn.size() / 2, nn.end());
  return nn[nn.size() / 2];
}

// The default logger's output while fn runs.
std::string logged(const std::function<void()>& fn) {
  std::ostringstream os;
  auto old = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(os)));
  fn();
  spdlog::set_default_logger(old);
  return os.str();
}

}  // namespace

TEST(SpotSpacing, MedianNearestNeighbourOfArrays) {
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance({}), 0);
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance({{1, 1}}), 0);
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance({{1, 1}, {1, 1}}), 0);  // one distinct centre
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance({{0, 0}, {3, 4}}), 5);
  EXPECT_NEAR(median_nearest_spot_distance(grid(30, 20, 272, false)), 272, 1e-9);  // legacy ST
  EXPECT_NEAR(median_nearest_spot_distance(grid(40, 40, 100, true)), 100, 1e-9);   // Visium's hexagons
  // A vertical line (the sweep runs along the wider axis) and a duplicated spot.
  Points line;
  for (int i = 0; i < 50; ++i) line.push_back({7, 3.0 * i});
  line.push_back({7, 0});
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance(line), 3);
  // Jittered and scattered points: the same answer as every pair compared.
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> jitter(-6, 6), any(0, 5000);
  Points jittered = grid(25, 25, 150, true), scattered;
  for (auto& p : jittered) p[0] += jitter(rng), p[1] += jitter(rng);
  for (int i = 0; i < 400; ++i) scattered.push_back({any(rng), any(rng) / 3});
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance(jittered), brute_force_median(jittered));
  EXPECT_DOUBLE_EQ(median_nearest_spot_distance(scattered), brute_force_median(scattered));
}

TEST(SpotSpacing, DecisionKeepsDiametersWithinAFactorOfTwoOfTheArrays) {
  // Visium: 55 um spots 100 um apart; legacy ST: 100 um spots 200 um apart (spacing 1-2 diameters).
  EXPECT_FALSE(check_spot_diameter(55, 100, SpotArray::visium).replaced);
  EXPECT_FALSE(check_spot_diameter(100, 200, SpotArray::st).replaced);
  // The limits: up to 2 x the spacing and down to a quarter of it are kept.
  EXPECT_FALSE(check_spot_diameter(200, 100, SpotArray::visium).replaced);
  EXPECT_FALSE(check_spot_diameter(25, 100, SpotArray::visium).replaced);
  auto big = check_spot_diameter(201, 100, SpotArray::visium);
  EXPECT_TRUE(big.replaced);
  EXPECT_NEAR(big.diameter, 100 / 1.8, 1e-12);
  EXPECT_DOUBLE_EQ(big.spacing, 100);
  auto small = check_spot_diameter(24.9, 100, SpotArray::st);
  EXPECT_TRUE(small.replaced);
  EXPECT_DOUBLE_EQ(small.diameter, 50);
  // HEST-1k's Visium HD: 2 um stated (7.4 px at 0.27 um/px) over spots pooled 55 um apart (204 px).
  auto hd = check_spot_diameter(2 / 0.27, 55 / 0.27, SpotArray::visium);
  EXPECT_TRUE(hd.replaced);
  EXPECT_NEAR(hd.diameter, 55 / 0.27 / 1.8, 1e-9);
  // No spacing known: the stated diameter stands.
  EXPECT_FALSE(check_spot_diameter(7, 0, SpotArray::visium).replaced);
  EXPECT_DOUBLE_EQ(check_spot_diameter(7, 0, SpotArray::visium).diameter, 7);
}

TEST(SpotSpacing, SettleWarnsNamingSectionAndSource) {
  const Points st = grid(10, 10, 272, false);
  double used = 0;
  std::string log = logged([&] { used = settle_spot_diameter("C6", "metadata/C6.json (spot_diameter)", 2.7, st, SpotArray::st); });
  EXPECT_DOUBLE_EQ(used, 136);
  EXPECT_NE(log.find("C6"), std::string::npos) << log;
  EXPECT_NE(log.find("metadata/C6.json"), std::string::npos) << log;
  EXPECT_NE(log.find("2.7 px"), std::string::npos) << log;
  EXPECT_NE(log.find("272 px"), std::string::npos) << log;
  EXPECT_NE(log.find("using 136 px"), std::string::npos) << log;
  // A diameter that fits says nothing; nor does a section too small to have a spacing.
  log = logged([&] { used = settle_spot_diameter("C6", "m", 136, st, SpotArray::st); });
  EXPECT_DOUBLE_EQ(used, 136);
  EXPECT_EQ(log, "");
  log = logged([&] { used = settle_spot_diameter("C6", "m", 1, {{0, 0}, {500, 0}}, SpotArray::st); });
  EXPECT_DOUBLE_EQ(used, 1);
  EXPECT_EQ(log, "");
}

TEST(SpotSpacing, RealDatasetsReadWithoutAWarning) {
  // Every section of the shared datasets keeps its stated (or estimated) diameter, silently.
  struct Data {
    const char* config;
    const char* root;
  };
  int read = 0;
  for (Data d : {Data{"her2st.toml", "her2st"}, Data{"stutility_mob.toml", "stutility_mob"},
                 Data{"visium_fixture.toml", "visium_seurat_fixture"}}) {
    const std::filesystem::path root = test::shared_data() / d.root;
    if (test::shared_data().empty() || !std::filesystem::exists(root)) continue;
    Manifest m = load_manifest(std::filesystem::path(HISCMCL_SOURCE_DIR) / "configs" / d.config, root);
    for (const auto& ms : m.sections) {
      SCOPED_TRACE(ms.id);
      Section s;
      std::string log = logged([&] { s = read_section(ms, {}); });
      EXPECT_EQ(log.find("spacing"), std::string::npos) << log;
      const double spacing = median_nearest_spot_distance(s.pixel_xy);
      EXPECT_GE(s.image.spot_diameter_px, spacing / 4);
      EXPECT_LE(s.image.spot_diameter_px, spacing * 2);
      ++read;
    }
  }
  if (read == 0) GTEST_SKIP() << "real data ../shared/data is absent (a user's clone); CI has it";
}
