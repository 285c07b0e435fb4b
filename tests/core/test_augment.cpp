// Training augmentation (METHOD.md §4.5) with PIL's arithmetic: known pixels, exact geometry, draws.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include <algorithm>
#include <set>

#include "data/augment.h"

using namespace hiscmcl;

namespace {
cv::Mat pixels(std::initializer_list<cv::Vec3b> px) {
  cv::Mat m(1, int(px.size()), CV_8UC3);
  int i = 0;
  for (auto& p : px) m.at<cv::Vec3b>(0, i++) = p;
  return m;
}
cv::Mat ramp(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 7 + y), uint8_t(y * 11), uint8_t(x * y));
  return m;
}
bool same(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0; }
}  // namespace

TEST(Augment, BrightnessBlendsWithBlackAndTruncates) {
  cv::Mat m = pixels({{100, 200, 10}, {101, 3, 255}});
  cv::Mat up = adjust_brightness(m, 1.5), down = adjust_brightness(m, 0.5);
  EXPECT_EQ(up.at<cv::Vec3b>(0, 0), cv::Vec3b(150, 255, 15));   // 300 clipped
  EXPECT_EQ(down.at<cv::Vec3b>(0, 1), cv::Vec3b(50, 1, 127));    // 50.5, 1.5, 127.5 truncated
}

TEST(Augment, ContrastBlendsWithTheRoundedMeanLuminance) {
  // L = 0 and 255: mean 127.5 -> grey 128.
  cv::Mat m = pixels({{0, 0, 0}, {255, 255, 255}});
  cv::Mat half = adjust_contrast(m, 0.5);
  EXPECT_EQ(half.at<cv::Vec3b>(0, 0), cv::Vec3b(64, 64, 64));     // 128 - 64
  EXPECT_EQ(half.at<cv::Vec3b>(0, 1), cv::Vec3b(191, 191, 191));  // 128 + 63.5 truncated
  cv::Mat flat(4, 4, CV_8UC3, cv::Scalar(90, 90, 90));
  EXPECT_TRUE(same(adjust_contrast(flat, 1.4), flat));  // a uniform grey crop is its own mean
}

TEST(Augment, SaturationBlendsWithTheLuminanceImage) {
  // Pure red: L = (19595 * 255 + 32768) >> 16 = 76.
  cv::Mat red = pixels({{255, 0, 0}, {77, 77, 77}});
  cv::Mat grey = adjust_saturation(red, 0.0), more = adjust_saturation(red, 1.5);
  EXPECT_EQ(grey.at<cv::Vec3b>(0, 0), cv::Vec3b(76, 76, 76));
  EXPECT_EQ(more.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));   // 344.5 and -38 clipped
  EXPECT_EQ(more.at<cv::Vec3b>(0, 1), cv::Vec3b(77, 77, 77));  // a grey pixel stays put
}

TEST(Augment, RotationIsExactOnQuarterTurnsAboutTheCentre) {
  for (int w : {6, 7}) {
    cv::Mat m = ramp(w, w), r180, r90;
    cv::flip(m, r180, -1);
    cv::rotate(m, r90, cv::ROTATE_90_COUNTERCLOCKWISE);  // PIL: positive angles turn counter-clockwise
    EXPECT_TRUE(same(rotate_nearest(m, 180), r180)) << w;
    EXPECT_TRUE(same(rotate_nearest(m, -180), r180)) << w;
    EXPECT_TRUE(same(rotate_nearest(m, 90), r90)) << w;
  }
  // 45 degrees: same canvas, the corners come from outside and are black, the centre stays.
  cv::Mat m(21, 21, CV_8UC3, cv::Scalar(200, 100, 50));
  cv::Mat r = rotate_nearest(m, 45);
  EXPECT_EQ(r.size(), m.size());
  EXPECT_EQ(r.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(r.at<cv::Vec3b>(10, 10), cv::Vec3b(200, 100, 50));
}

TEST(Augment, ApplyRunsJitterThenFlipThenRotation) {
  cv::Mat m = ramp(9, 9);
  AugmentParams id;
  EXPECT_TRUE(same(apply_augment(m, id), m));
  AugmentParams p;
  p.brightness = 0.8;
  p.flip = true;
  p.angle_deg = 90;
  cv::Mat expect = adjust_brightness(m, 0.8), f;
  cv::flip(expect, f, 1);
  EXPECT_TRUE(same(apply_augment(m, p), rotate_nearest(f, 90)));
}

TEST(Augment, DrawsAreSeededAndInRange) {
  std::mt19937_64 a(42), b(42);
  int flips = 0;
  double min_angle = 0, max_angle = 0;
  std::set<std::array<int, 3>> orders;
  for (int i = 0; i < 2000; ++i) {
    AugmentParams p = draw_augment(a), q = draw_augment(b);
    ASSERT_EQ(p.brightness, q.brightness);
    ASSERT_EQ(p.angle_deg, q.angle_deg);
    for (double f : {p.brightness, p.contrast, p.saturation}) {
      ASSERT_GE(f, 0.5);
      ASSERT_LE(f, 1.5);
    }
    auto sorted = p.order;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::array<int, 3>{0, 1, 2}));
    orders.insert(p.order);
    flips += p.flip;
    min_angle = std::min(min_angle, p.angle_deg);
    max_angle = std::max(max_angle, p.angle_deg);
  }
  EXPECT_EQ(orders.size(), 6u);  // every order of the three jitters occurs
  EXPECT_NEAR(flips / 2000.0, 0.5, 0.05);
  EXPECT_LT(min_angle, -170);
  EXPECT_GT(max_angle, 170);
  EXPECT_GE(min_angle, -180);
  EXPECT_LE(max_angle, 180);
}
