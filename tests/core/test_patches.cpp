// Crops around spot centres: box placement (floor), black padding, scales, compat size, batching,
// thread-count independence. Synthetic images whose crops are known pixel by pixel.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "data/patches.h"

using namespace hiscmcl;

namespace {

const cv::Vec3b kRed(255, 0, 0), kGreen(0, 255, 0), kBlue(0, 0, 255), kWhite(255, 255, 255),
    kBlack(0, 0, 0);

// 100 x 80 (w x h), quadrants split at x = 50, y = 40: red | green over blue | white.
cv::Mat quadrants() {
  cv::Mat img(80, 100, CV_8UC3);
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 100; ++x)
      img.at<cv::Vec3b>(y, x) = y < 40 ? (x < 50 ? kRed : kGreen) : (x < 50 ? kBlue : kWhite);
  return img;
}

// Constant 3x3 blocks, each with its own colour: an exact 3x INTER_AREA shrink gives block colours.
cv::Vec3b block_colour(int bx, int by) {
  return cv::Vec3b(uint8_t(bx * 7 % 256), uint8_t(by * 11 % 256), uint8_t((bx + 3 * by) % 256));
}
cv::Mat blocks(int w, int h) {
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) img.at<cv::Vec3b>(y, x) = block_colour(x / 3, y / 3);
  return img;
}

int count_colour(const cv::Mat& m, const cv::Vec3b& c) {
  int n = 0;
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) n += m.at<cv::Vec3b>(y, x) == c;
  return n;
}

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST(Patches, CropSideFromSpotDiameterOrFixed) {
  EXPECT_EQ(crop_side_px({1.0, 0}, 136.0), 136);
  EXPECT_EQ(crop_side_px({3.0, 0}, 136.0), 408);
  EXPECT_EQ(crop_side_px({6.0, 0}, 136.0), 816);
  EXPECT_EQ(crop_side_px({1.0, 0}, 29.4), 29);   // rounds to nearest
  EXPECT_EQ(crop_side_px({1.0, 0}, 29.6), 30);
  EXPECT_EQ(crop_side_px({5.0, 224}, 136.0), 224);  // compat ignores the field of view
  EXPECT_THROW(crop_side_px({0.0, 0}, 136.0), std::invalid_argument);
  EXPECT_THROW(crop_side_px({1.0, 0}, 0.0), std::invalid_argument);
}

TEST(Patches, BoxUsesFloorOfCentre) {
  EXPECT_EQ(crop_box({10.7, 20.2}, 5), cv::Rect(8, 18, 5, 5));
  EXPECT_EQ(crop_box({10.0, 20.999}, 4), cv::Rect(8, 18, 4, 4));
  EXPECT_EQ(crop_box({6930.58, 3510.24}, 224), cv::Rect(6930 - 112, 3510 - 112, 224, 224));
}

TEST(Patches, CornerCropHasExactBlackPadding) {
  auto img = SlideImage::from_rgb(quadrants());
  // Box (-10,-10)..(10,10): a 10x10 red square inside, 400 - 100 = 300 black pixels.
  cv::Mat c = crop_patch(*img, {0.0, 0.0}, 20, 20);
  ASSERT_EQ(c.type(), CV_8UC3);
  ASSERT_EQ(c.size(), cv::Size(20, 20));
  EXPECT_EQ(count_colour(c, kBlack), 300);
  EXPECT_EQ(count_colour(c, kRed), 100);
  EXPECT_EQ(c.at<cv::Vec3b>(10, 10), kRed);
  EXPECT_EQ(c.at<cv::Vec3b>(9, 9), kBlack);
  // Bottom-right corner: box (89,69)..(109,89) -> 11x11 white inside.
  cv::Mat d = crop_patch(*img, {99.5, 79.5}, 20, 20);
  EXPECT_EQ(count_colour(d, kWhite), 121);
  EXPECT_EQ(count_colour(d, kBlack), 400 - 121);
}

TEST(Patches, CentreCropSplitsQuadrantsEqually) {
  auto img = SlideImage::from_rgb(quadrants());
  cv::Mat c = crop_patch(*img, {50.9, 40.3}, 20, 20);  // floor -> (50, 40), box (40,30)..(60,50)
  EXPECT_EQ(count_colour(c, kRed), 100);
  EXPECT_EQ(count_colour(c, kGreen), 100);
  EXPECT_EQ(count_colour(c, kBlue), 100);
  EXPECT_EQ(count_colour(c, kWhite), 100);
  EXPECT_EQ(c.at<cv::Vec3b>(0, 0), kRed);
  EXPECT_EQ(c.at<cv::Vec3b>(0, 19), kGreen);
  EXPECT_EQ(c.at<cv::Vec3b>(19, 0), kBlue);
  // Enlarging a one-colour region stays that colour (INTER_LINEAR of a constant).
  cv::Mat big = crop_patch(*img, {20.0, 20.0}, 10, 64);
  EXPECT_EQ(big.size(), cv::Size(64, 64));
  EXPECT_EQ(count_colour(big, kRed), 64 * 64);
}

TEST(Patches, ThreeTimesFieldOfViewIsTheThreeTimesAreaImage) {
  auto img = SlideImage::from_rgb(blocks(120, 120));
  const double spot = 10.0;
  PatchOptions opt;
  opt.scales = {{1.0, 0}, {3.0, 0}};
  opt.out_px = 10;
  std::vector<cv::Mat> s1, s3;
  for_each_patch_batch(*img, {{45.5, 45.2}}, spot, opt,
                       [&](int64_t, const std::vector<std::vector<cv::Mat>>& crops) {
                         s1 = crops[0];
                         s3 = crops[1];
                       });
  ASSERT_EQ(s1.size(), 1u);
  ASSERT_EQ(s3.size(), 1u);
  // Scale 1: box (40,40) side 10 copied as is.
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x)
      ASSERT_EQ(s1[0].at<cv::Vec3b>(y, x), block_colour((40 + x) / 3, (40 + y) / 3)) << x << "," << y;
  // Scale 3: box (30,30) side 30 shrunk 3x; each output pixel is one whole 3x3 block.
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x)
      ASSERT_EQ(s3[0].at<cv::Vec3b>(y, x), block_colour(10 + x, 10 + y)) << x << "," << y;
}

TEST(Patches, CompatFixedSizeCropIsTheRawBox) {
  cv::Mat raw = blocks(300, 300);
  auto img = SlideImage::from_rgb(raw);
  PatchOptions opt;
  opt.scales = {{1.0, 224}};
  opt.out_px = 224;
  cv::Mat got;
  for_each_patch_batch(*img, {{150.4, 149.9}}, 55.0, opt,
                       [&](int64_t, const std::vector<std::vector<cv::Mat>>& c) { got = c[0][0]; });
  EXPECT_TRUE(same_bytes(got, raw(cv::Rect(150 - 112, 149 - 112, 224, 224))));
}

TEST(Patches, BatchesComeInOrderWithAllScales) {
  auto img = SlideImage::from_rgb(blocks(200, 200));
  std::vector<Centre> centres;
  for (int i = 0; i < 10; ++i) centres.push_back({15.0 + 17 * i, 20.0 + 13 * i});
  PatchOptions opt;
  opt.scales = {{1.0, 0}, {2.0, 0}};
  opt.out_px = 12;
  opt.batch_size = 4;
  std::vector<int64_t> firsts, sizes;
  int64_t seen = 0;
  for_each_patch_batch(*img, centres, 12.0, opt,
                       [&](int64_t first, const std::vector<std::vector<cv::Mat>>& crops) {
                         firsts.push_back(first);
                         ASSERT_EQ(crops.size(), 2u);
                         ASSERT_EQ(crops[0].size(), crops[1].size());
                         sizes.push_back(int64_t(crops[0].size()));
                         for (size_t i = 0; i < crops[0].size(); ++i) {
                           const Centre& c = centres[size_t(first) + i];
                           EXPECT_TRUE(same_bytes(crops[0][i], crop_patch(*img, c, 12, 12)));
                           EXPECT_TRUE(same_bytes(crops[1][i], crop_patch(*img, c, 24, 12)));
                           ++seen;
                         }
                       });
  EXPECT_EQ(firsts, (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, 10);
  // No centres: no callback.
  int calls = 0;
  for_each_patch_batch(*img, {}, 12.0, opt,
                       [&](int64_t, const std::vector<std::vector<cv::Mat>>&) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(Patches, SameBytesWithOneAndTwoThreads) {
  cv::Mat raw(257, 263, CV_8UC3);
  cv::randu(raw, 0, 256);
  auto img = SlideImage::from_rgb(raw);
  std::vector<Centre> centres;
  for (int i = 0; i < 23; ++i) centres.push_back({11.3 * i, 257.0 - 10.7 * i});
  auto run = [&](int threads) {
    PatchOptions opt;
    opt.scales = {{1.0, 0}, {3.0, 0}, {6.0, 0}};
    opt.out_px = 32;
    opt.batch_size = 5;
    opt.threads = threads;
    std::vector<cv::Mat> all;
    for_each_patch_batch(*img, centres, 13.6, opt,
                         [&](int64_t, const std::vector<std::vector<cv::Mat>>& c) {
                           for (auto& s : c)
                             for (auto& m : s) all.push_back(m.clone());
                         });
    return all;
  };
  auto a = run(1), b = run(2);
  ASSERT_EQ(a.size(), 23u * 3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bytes(a[i], b[i])) << i;
}

TEST(Patches, CentresOutsideTheImageNameTheFile) {
  auto img = SlideImage::from_rgb(quadrants());
  EXPECT_NO_THROW(require_centres_inside(*img, {{0.0, 0.0}, {99.9, 79.9}}, "img.jpg"));
  try {
    require_centres_inside(*img, {{5.0, 5.0}, {100.0, 10.0}}, "img.jpg");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "img.jpg");
    EXPECT_NE(std::string(e.what()).find("spot 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(require_centres_inside(*img, {{NAN, 1.0}}, "img.jpg"), InputError);
  PatchOptions none;
  none.scales.clear();
  EXPECT_THROW(for_each_patch_batch(*img, {{1.0, 1.0}}, 10.0, none,
                                    [](int64_t, const std::vector<std::vector<cv::Mat>>&) {}),
               std::invalid_argument);
}
