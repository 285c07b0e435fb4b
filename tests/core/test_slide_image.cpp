// Whole-slide images through OpenSlide: chosen by content, crops read from the right pyramid level,
// microns per pixel from the file, and pixel-level agreement with the JPEG the pyramid was made
// from. Fixtures are made at test time from a real her2st JPEG with vips (libvips-tools).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "data/patches.h"
#include "io/image_info.h"
#include "io/slide_image.h"
#include "test_util.h"

using namespace hiscmcl;
using namespace hiscmcl::test;
namespace fs = std::filesystem;

namespace {

const char* kC6Jpeg = "her2st/data/ST-imgs/C/C6/5714_HE_BT_E2.jpg";

bool have_vips() { return run_command("command -v vips").exit_code == 0; }

#define REQUIRE_VIPS()                                                                  \
  do {                                                                                  \
    if (!have_vips()) GTEST_SKIP() << "vips (libvips-tools, scripts/setup.sh) is absent"; \
  } while (0)

// vips tiffsave with the given extra options; fails the test on error.
void tiffsave(const fs::path& in, const fs::path& out, const std::string& options) {
  CommandResult r = run_command("vips tiffsave '" + in.string() + "' '" + out.string() + "' " + options);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

const std::string kPyramid = "--tile --pyramid --compression jpeg --Q 95 --tile-width 256 --tile-height 256";

// Pearson correlation of two images' pixel values (all channels).
double pixel_pcc(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat fa, fb;
  a.reshape(1).convertTo(fa, CV_64F);
  b.reshape(1).convertTo(fb, CV_64F);
  cv::Scalar ma = cv::mean(fa), mb = cv::mean(fb);
  fa -= ma[0];
  fb -= mb[0];
  return fa.dot(fb) / std::sqrt(fa.dot(fa) * fb.dot(fb));
}

}  // namespace

TEST(LevelForDownsample, CoarsestLevelNotCoarserThanWanted) {
  std::vector<double> ds{1.0, 2.0001, 4.0006, 8.0012};
  EXPECT_EQ(level_for_downsample(ds, 0.5), 0);   // enlarging: full resolution
  EXPECT_EQ(level_for_downsample(ds, 1.0), 0);
  EXPECT_EQ(level_for_downsample(ds, 1.99), 0);  // level 1 would upsample by 0.5%
  EXPECT_EQ(level_for_downsample(ds, 2.0), 1);   // rounding slack of level sizes
  EXPECT_EQ(level_for_downsample(ds, 3.9), 1);
  EXPECT_EQ(level_for_downsample(ds, 4.0), 2);
  EXPECT_EQ(level_for_downsample(ds, 100.0), 3);
  EXPECT_EQ(level_for_downsample({1.0}, 16.0), 0);
}

TEST(ChooseUmPerPx, ManifestWinsElseSlide) {
  EXPECT_EQ(choose_um_per_px(0.5, 0.25, "x.tif"), 0.5);  // manifest wins (with a warning)
  EXPECT_EQ(choose_um_per_px(std::nullopt, 0.25, "x.tif"), 0.25);
  EXPECT_EQ(choose_um_per_px(std::nullopt, std::nullopt, "x.tif"), std::nullopt);
}

TEST(SlideImage, PyramidalTiffOfHer2stJpegMatchesTheJpeg) {
  HISCMCL_REQUIRE_DATA(kC6Jpeg);
  REQUIRE_VIPS();
  TempDir tmp;
  const fs::path jpeg = shared_data() / kC6Jpeg, tif = tmp / "c6.tif";
  tiffsave(jpeg, tif, kPyramid);
  auto plain = SlideImage::open(jpeg);
  auto slide = SlideImage::open(tif);
  EXPECT_FALSE(plain->is_whole_slide());
  ASSERT_TRUE(slide->is_whole_slide());
  ASSERT_EQ(slide->width(), plain->width());
  ASSERT_EQ(slide->height(), plain->height());
  ImageSize size = read_image_size(tif);
  EXPECT_EQ(size.width, 9288);
  EXPECT_EQ(size.height, 9907);

  // Spot-sized crops (136 px -> 224, level 0) and 4-spot crops (544 px -> 224: from the 2x level)
  // agree with the JPEG's up to the TIFF's JPEG re-encoding and, for the latter, the level's own
  // 2x reduction; a crop of the wrong place or level would not.
  const std::vector<Centre> centres{{4000.5, 5000.2}, {5200, 3900}, {3100, 6100}};
  for (int side : {136, 544}) {
    for (const auto& c : centres) {
      cv::Mat a = crop_patch(*plain, c, side, 224), b = crop_patch(*slide, c, side, 224);
      ASSERT_EQ(b.size(), cv::Size(224, 224));
      ASSERT_EQ(b.type(), CV_8UC3);
      EXPECT_GT(pixel_pcc(a, b), 0.97) << "side " << side << " at " << c[0] << "," << c[1];
      cv::Mat shifted = crop_patch(*plain, {c[0] + side / 2.0, c[1]}, side, 224);
      EXPECT_LT(pixel_pcc(shifted, b), pixel_pcc(a, b) - 0.1);
    }
  }
  // Full-resolution regions, black outside the slide as for the JPEG.
  cv::Rect edge(-20, -20, 60, 60);
  cv::Mat pa = plain->read_region(edge), pb = slide->read_region(edge);
  EXPECT_EQ(pb.at<cv::Vec3b>(5, 5), cv::Vec3b(0, 0, 0));
  EXPECT_GT(pixel_pcc(pa(cv::Rect(20, 20, 40, 40)).clone(), pb(cv::Rect(20, 20, 40, 40)).clone()), 0.9);

  // The thumbnail comes from a low level at the asked size.
  cv::Mat th = slide->thumbnail(16.0), tp = plain->thumbnail(16.0);
  EXPECT_NEAR(th.cols, tp.cols, 1);
  EXPECT_NEAR(th.rows, tp.rows, 1);
  cv::resize(th, th, tp.size());
  EXPECT_GT(pixel_pcc(th, tp), 0.98);
  EXPECT_EQ(slide->um_per_px(), std::nullopt);  // vips' default 72 dpi is no microscope resolution
}

TEST(SlideImage, ChosenByContentNotExtension) {
  HISCMCL_REQUIRE_DATA(kC6Jpeg);
  REQUIRE_VIPS();
  TempDir tmp;
  const fs::path jpeg = shared_data() / kC6Jpeg;
  // A tiled pyramid named .jpg is still read through OpenSlide; an untiled TIFF by OpenCV.
  tiffsave(jpeg, tmp / "pyramid.jpg", kPyramid);
  tiffsave(jpeg, tmp / "flat.tif", "--compression jpeg --Q 95");
  EXPECT_TRUE(SlideImage::open(tmp / "pyramid.jpg")->is_whole_slide());
  auto flat = SlideImage::open(tmp / "flat.tif");
  EXPECT_FALSE(flat->is_whole_slide());
  EXPECT_EQ(flat->width(), 9288);
}

TEST(SlideImage, MicronsPerPixelFromTheSlide) {
  HISCMCL_REQUIRE_DATA(kC6Jpeg);
  REQUIRE_VIPS();
  TempDir tmp;
  // 2000 px/mm = 0.5 µm/px, written in centimetres as scanners and HEST's writer do.
  tiffsave(shared_data() / kC6Jpeg, tmp / "mpp.tif", kPyramid + " --xres 2000 --yres 2000 --resunit cm");
  auto slide = SlideImage::open(tmp / "mpp.tif");
  ASSERT_TRUE(slide->um_per_px().has_value());
  EXPECT_NEAR(*slide->um_per_px(), 0.5, 1e-9);
  EXPECT_NEAR(*read_image_size(tmp / "mpp.tif").um_per_px, 0.5, 1e-9);
}

TEST(SlideImage, TruncatedSlideIsANamedError) {
  HISCMCL_REQUIRE_DATA(kC6Jpeg);
  REQUIRE_VIPS();
  TempDir tmp;
  tiffsave(shared_data() / kC6Jpeg, tmp / "full.tif", kPyramid);
  ASSERT_EQ(run_command("head -c 4000000 '" + (tmp / "full.tif").string() + "' > '" +
                        (tmp / "cut.tif").string() + "'").exit_code, 0);
  std::string msg = input_error_of([&] { SlideImage::open(tmp / "cut.tif"); });
  EXPECT_NE(msg.find("cut.tif"), std::string::npos) << msg;
}
