// Heatmap PNGs: spot colours follow viridis on the shared scale; atomic writes.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "eval/heatmap.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {
int max_diff(cv::Vec3b a, cv::Vec3b b) {
  int d = 0;
  for (int i = 0; i < 3; ++i) d = std::max(d, std::abs(int(a[i]) - int(b[i])));
  return d;
}
}  // namespace

TEST(Heatmap, ViridisEndpoints) {
  // matplotlib viridis: 0 -> #440154, 1 -> #fde725 (BGR order here).
  EXPECT_LE(max_diff(viridis_bgr(0), cv::Vec3b(84, 1, 68)), 3);
  EXPECT_LE(max_diff(viridis_bgr(1), cv::Vec3b(37, 231, 253)), 3);
  EXPECT_EQ(viridis_bgr(-5), viridis_bgr(0));
  EXPECT_EQ(viridis_bgr(std::nan("")), viridis_bgr(0));
}

TEST(Heatmap, SpotColoursFollowSharedScale) {
  cv::Mat thumb(100, 200, CV_8UC3, cv::Scalar(200, 150, 200));
  // Full resolution = 4x the thumbnail; spots at thumbnail (50,50) and (150,50).
  std::vector<cv::Point2d> spots = {{200, 200}, {600, 200}};
  cv::Mat one = render_heatmap(thumb, 4.0, spots, {{"", {1.f, 3.f}}}, 80, "t");
  cv::Mat pair = render_heatmap(thumb, 4.0, spots, {{"p", {1.f, 2.f}}, {"m", {2.f, 3.f}}}, 80, "t");
  EXPECT_GT(pair.cols, one.cols + 300);  // a second panel
  // Find the circles: the crop is the spots' box, so spot 0 lies left of spot 1 in panel 1.
  // Sample the panel row through both spot centres: the colour nearest each end.
  auto panel_colours = [](const cv::Mat& img, int x_from, int x_to) {
    std::vector<cv::Vec3b> found;
    for (int y = 0; y < img.rows; ++y)
      for (int x = x_from; x < x_to; ++x) {
        cv::Vec3b c = img.at<cv::Vec3b>(y, x);
        if (max_diff(c, viridis_bgr(0)) <= 2 || max_diff(c, viridis_bgr(0.5)) <= 2 ||
            max_diff(c, viridis_bgr(1)) <= 2)
          found.push_back(c);
      }
    return found;
  };
  // Single panel: values 1 and 3 -> the scale's two ends both appear.
  auto cols = panel_colours(one, 0, one.cols - 100);
  bool lo = false, hi = false;
  for (auto c : cols) lo |= max_diff(c, viridis_bgr(0)) <= 2, hi |= max_diff(c, viridis_bgr(1)) <= 2;
  EXPECT_TRUE(lo && hi);
  // Pair on one scale [1, 3]: value 2 appears as the midpoint colour in both panels.
  int mid = 0;
  for (auto c : panel_colours(pair, 0, pair.cols - 100)) mid += max_diff(c, viridis_bgr(0.5)) <= 2;
  EXPECT_GT(mid, 100);
  EXPECT_THROW(render_heatmap(thumb, 4.0, spots, {{"", {1.f}}}, 80, "t"), std::invalid_argument);

  // Each panel on its own scale: predicted {1, 2} and measured {2, 3} each span their bar, so no
  // spot takes the midpoint colour, and each panel shows both ends.
  cv::Mat own = render_heatmap(thumb, 4.0, spots, {{"p", {1.f, 2.f}}, {"m", {2.f, 3.f}}}, 80, "t",
                               HeatmapScale::per_panel);
  EXPECT_GT(own.cols, pair.cols + 40);  // a colour bar per panel
  // Panel k starts at margin + k * (panel + margin + bar block); `one` has a panel and one bar
  // block (16 + panel + 16 + 96 px), which gives the panel width.
  const int pw = one.cols - 128, step = pw + 16 + 96;
  ASSERT_EQ(own.cols, 16 + 2 * step);
  for (auto [from, to] : {std::pair{16, 16 + pw}, std::pair{16 + step, 16 + step + pw}}) {
    bool lo_end = false, hi_end = false, middle = false;
    for (auto c : panel_colours(own, from, to)) {
      lo_end |= max_diff(c, viridis_bgr(0)) <= 2;
      hi_end |= max_diff(c, viridis_bgr(1)) <= 2;
      middle |= max_diff(c, viridis_bgr(0.5)) <= 2;
    }
    EXPECT_TRUE(lo_end && hi_end) << from;
    EXPECT_FALSE(middle) << from;
  }
}

TEST(Heatmap, WritesPngAtomically) {
  test::TempDir dir;
  cv::Mat thumb(60, 80, CV_8UC3, cv::Scalar(230, 200, 230));
  std::vector<cv::Point2d> spots = {{20, 20}, {40, 30}, {60, 40}};
  write_heatmap_pair_png(dir / "g.png", thumb, 1.0, spots, {0.f, 1.f, std::nanf("")}, {1.f, 2.f, 3.f},
                         10, "GENE");
  cv::Mat back = cv::imread((dir / "g.png").string());
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back.channels(), 3);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) (void)e, ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(write_heatmap_png("/proc/no/such/dir/x.png", thumb, 1.0, spots, {1, 2, 3}, 10, "x"),
               std::exception);
}

TEST(Heatmap, RegionMapColoursEachSpotByItsRegionPerPanel) {
  cv::Mat thumb(100, 200, CV_8UC3, cv::Scalar(200, 150, 200));
  std::vector<cv::Point2d> spots = {{200, 200}, {600, 200}};
  auto count = [](const cv::Mat& img, int x_from, int x_to, cv::Vec3b colour) {
    int n = 0;
    for (int y = 0; y < img.rows; ++y)
      for (int x = x_from; x < x_to; ++x) n += max_diff(img.at<cv::Vec3b>(y, x), colour) == 0;
    return n;
  };
  // panel 1: spots in regions 0 and 1; panel 2: both in region 2, then one without a region
  cv::Mat img = render_region_map(thumb, 4.0, spots, {{"predicted", {0, 1}}, {"measured", {2, -1}}}, 80, "t",
                                  {"1", "2", "3"});
  const int half = (img.cols - 60) / 2;  // the legend sits right of both panels
  EXPECT_GT(count(img, 0, half, region_bgr(0)), 200);
  EXPECT_GT(count(img, 0, half, region_bgr(1)), 200);
  EXPECT_EQ(count(img, 0, half, region_bgr(2)), 0);
  EXPECT_GT(count(img, half, img.cols - 60, region_bgr(2)), 200);
  EXPECT_EQ(count(img, half, img.cols - 60, region_bgr(0)), 0);
  EXPECT_NE(region_bgr(0), region_bgr(1));
  EXPECT_THROW(render_region_map(thumb, 4.0, spots, {{"", {0}}}, 80, "t", {"1"}), std::invalid_argument);
  EXPECT_THROW(render_region_map(thumb, 4.0, spots, {{"", {0, 3}}}, 80, "t", {"1"}), std::invalid_argument);
}
