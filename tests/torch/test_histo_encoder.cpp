// The weight-free histo encoder: stain deconvolution against hand-computed pixels, nuclei
// features on synthetic discs, shape, finiteness and determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <set>

#include "common/thread_pool.h"
#include "encoders/histo_encoder.h"
#include "encoders/histo_features.h"
#include "encoders/stain.h"

using namespace hiscmcl;

namespace {

// Ruifrok–Johnston vectors written out by hand, normalised here, independent of stain.cpp.
Vec3d unit(double a, double b, double c) {
  double n = std::sqrt(a * a + b * b + c * c);
  return {a / n, b / n, c / n};
}
// RGB of a pixel with OD = conc * v: I = 256 * 10^-OD - 1.
cv::Vec3b pixel_of(const Vec3d& v, double conc) {
  cv::Vec3b p;
  for (int k = 0; k < 3; ++k)
    p[k] = uint8_t(std::lround(std::clamp(256.0 * std::pow(10.0, -conc * v[size_t(k)]) - 1, 0.0, 255.0)));
  return p;
}
const Vec3d kH = unit(0.65, 0.70, 0.29), kE = unit(0.07, 0.99, 0.11);

std::vector<float> features(const cv::Mat& rgb) {
  std::vector<float> f(static_cast<size_t>(histo_feature_dim()));
  histo_features(rgb, f.data());
  return f;
}
float feature(const std::vector<float>& f, const std::string& name) {
  const auto& names = histo_feature_names();
  auto it = std::find(names.begin(), names.end(), name);
  EXPECT_NE(it, names.end()) << name;
  return it == names.end() ? NAN : f[size_t(it - names.begin())];
}

// Pink (eosin 0.3) background with n x n dark-blue (haematoxylin 1.2) discs of radius r.
cv::Mat discs_on_pink(int n, int r) {
  cv::Mat img(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(pixel_of(kE, 0.3)));
  cv::Vec3b blue = pixel_of(kH, 1.2);
  int step = kHistoInputPx / n;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      cv::circle(img, {step / 2 + i * step, step / 2 + j * step}, r, cv::Scalar(blue), cv::FILLED,
                 cv::LINE_8);
  return img;
}

}  // namespace

TEST(Stain, InverseOfTheStainMatrix) {
  const auto& m = ruifrok_hed();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += m.rgb_from_stain[size_t(i)][size_t(k)] * m.stain_from_rgb[size_t(k)][size_t(j)];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-12);
    }
  EXPECT_NEAR(m.rgb_from_stain[0][0], 0.65 / std::sqrt(0.9966), 1e-12);
}

TEST(Stain, OpticalDensityOfWhiteAndBlack) {
  EXPECT_DOUBLE_EQ(optical_density(255), 0.0);
  EXPECT_NEAR(optical_density(0), std::log10(256.0), 1e-12);
  Vec3d white = stain_concentrations(255, 255, 255);
  for (double c : white) EXPECT_NEAR(c, 0.0, 1e-12);
}

TEST(Stain, PureHaematoxylinAndPureEosinSeparate) {
  // H at concentration 1: OD = (0.651, 0.701, 0.291) -> RGB about (56, 50, 130).
  cv::Vec3b hp = pixel_of(kH, 1.0);
  EXPECT_NEAR(hp[0], 56, 1);
  EXPECT_NEAR(hp[1], 50, 1);
  EXPECT_NEAR(hp[2], 130, 1);
  Vec3d ch = stain_concentrations(hp[0], hp[1], hp[2]);
  EXPECT_NEAR(ch[0], 1.0, 0.02);  // uint8 rounding moves OD by < 0.01 per channel
  EXPECT_NEAR(ch[1], 0.0, 0.02);
  EXPECT_NEAR(ch[2], 0.0, 0.02);
  // E at concentration 1: OD = (0.070, 0.991, 0.110) -> RGB about (217, 25, 198).
  cv::Vec3b ep = pixel_of(kE, 1.0);
  EXPECT_NEAR(ep[0], 217, 1);
  EXPECT_NEAR(ep[1], 25, 1);
  EXPECT_NEAR(ep[2], 198, 1);
  Vec3d ce = stain_concentrations(ep[0], ep[1], ep[2]);
  EXPECT_NEAR(ce[0], 0.0, 0.02);
  EXPECT_NEAR(ce[1], 1.0, 0.02);
  // The image path agrees with the pixel path.
  cv::Mat img(2, 1, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = hp;
  img.at<cv::Vec3b>(1, 0) = ep;
  cv::Mat s = deconvolve_stains(img);
  EXPECT_NEAR(s.at<cv::Vec3f>(0, 0)[0], ch[0], 1e-5);
  EXPECT_NEAR(s.at<cv::Vec3f>(1, 0)[1], ce[1], 1e-5);
  EXPECT_EQ(rgb_from_concentrations({1.0, 0, 0}), hp);
}

TEST(HistoEncoder, UniformStainPatchesGiveTheirStainStatistics) {
  cv::Mat h(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(pixel_of(kH, 1.0)));
  cv::Mat e(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(pixel_of(kE, 1.0)));
  auto fh = features(h), fe = features(e);
  for (const char* lv : {"l0.", "l1."}) {
    std::string p = lv;
    EXPECT_NEAR(feature(fh, p + "H_mean"), 1.0, 0.02);
    EXPECT_NEAR(feature(fh, p + "H_q50"), 1.0, 0.02);
    EXPECT_NEAR(feature(fh, p + "E_mean"), 0.0, 0.02);
    EXPECT_NEAR(feature(fh, p + "H_sd"), 0.0, 1e-3);
    EXPECT_EQ(feature(fh, p + "nuc_frac_hi"), 1.0f);
    EXPECT_EQ(feature(fh, p + "tissue_frac"), 1.0f);
    EXPECT_NEAR(feature(fe, p + "E_mean"), 1.0, 0.02);
    EXPECT_NEAR(feature(fe, p + "H_mean"), 0.0, 0.02);
    EXPECT_EQ(feature(fe, p + "nuc_frac_lo"), 0.0f);
    EXPECT_EQ(feature(fe, p + "eosin_dense_frac"), 1.0f);
  }
}

TEST(HistoEncoder, MoreLargerNucleiGiveLargerFractionCountAndSize) {
  auto few = features(discs_on_pink(2, 4));     // 4 small discs
  auto many = features(discs_on_pink(4, 6));    // 16 larger discs
  const double tissue = double(kHistoInputPx) * kHistoInputPx;
  double count_few = feature(few, "l0.nuc_density") * tissue / 1000.0;
  double count_many = feature(many, "l0.nuc_density") * tissue / 1000.0;
  EXPECT_NEAR(count_few, 4.0, 1e-3);
  EXPECT_NEAR(count_many, 16.0, 1e-3);
  EXPECT_NEAR(feature(few, "l0.nuc_peak_density") * tissue / 1000.0, 4.0, 1e-3);
  EXPECT_NEAR(feature(many, "l0.nuc_peak_density") * tissue / 1000.0, 16.0, 1e-3);
  EXPECT_GT(feature(many, "l0.nuc_frac_lo"), 3 * feature(few, "l0.nuc_frac_lo"));
  // A digital disc of radius r has about pi r^2 pixels: 50 for r = 4, 113 for r = 6.
  EXPECT_NEAR(feature(few, "l0.nuc_area_mean"), M_PI * 16, 0.15 * M_PI * 16);
  EXPECT_NEAR(feature(many, "l0.nuc_area_mean"), M_PI * 36, 0.15 * M_PI * 36);
  EXPECT_NEAR(feature(many, "l0.nuc_area_sd"), 0.0, 1e-3);  // all discs alike
  EXPECT_GT(feature(many, "l0.nuc_roundness_mean"), 0.9);
  EXPECT_NEAR(feature(many, "l0.nuc_fill_mean"), 1.0, 0.1);
  EXPECT_NEAR(feature(many, "l0.H_in_nuclei"), 1.2, 0.05);
  EXPECT_NEAR(feature(many, "l0.E_outside_nuclei"), 0.3, 0.05);
  EXPECT_GT(feature(many, "l1.nuc_frac_lo"), feature(few, "l1.nuc_frac_lo"));
}

TEST(HistoEncoder, TouchingNucleiAreOneComponentButTwoPeaks) {
  cv::Mat img(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(pixel_of(kE, 0.3)));
  cv::Scalar blue(pixel_of(kH, 1.2));
  cv::circle(img, {54, 64}, 7, blue, cv::FILLED);
  cv::circle(img, {74, 64}, 7, blue, cv::FILLED);
  cv::rectangle(img, cv::Rect(60, 63, 9, 3), blue, cv::FILLED);  // a thin bridge joins them
  auto f = features(img);
  const double tissue = double(kHistoInputPx) * kHistoInputPx;
  EXPECT_NEAR(feature(f, "l0.nuc_density") * tissue / 1000.0, 1.0, 1e-3);
  EXPECT_NEAR(feature(f, "l0.nuc_peak_density") * tissue / 1000.0, 2.0, 1e-3);
}

TEST(HistoEncoder, NucleusClassesCountWhatWasDrawn) {
  // Three crops, each of one kind of nucleus on pink, 16 nuclei each: small dark round discs
  // (lymphocyte-like), large paler discs (pleomorphic, tumour-like), thin ellipses (spindle).
  const cv::Scalar pink(pixel_of(kE, 0.3));
  cv::Mat small(kHistoInputPx, kHistoInputPx, CV_8UC3, pink), large = small.clone(), spindle = small.clone();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const cv::Point c{16 + 32 * i, 16 + 32 * j};
      cv::circle(small, c, 4, cv::Scalar(pixel_of(kH, 1.3)), cv::FILLED);     // ~50 px^2, dark
      cv::circle(large, c, 8, cv::Scalar(pixel_of(kH, 0.8)), cv::FILLED);     // ~200 px^2, paler
      cv::ellipse(spindle, c, {11, 2}, 30.0 * (i + j), 0, 360, cv::Scalar(pixel_of(kH, 1.0)), cv::FILLED);
    }
  const double tissue = double(kHistoInputPx) * kHistoInputPx;
  auto count = [&](const std::vector<float>& f, const char* cls) {
    return feature(f, std::string("l0.nuc_") + cls + "_density") * tissue / 1000.0;
  };
  const auto fs = features(small), fl = features(large), fp = features(spindle);
  EXPECT_NEAR(count(fs, "lymphocyte"), 16, 1e-3);
  EXPECT_NEAR(count(fs, "large"), 0, 1e-3);
  EXPECT_NEAR(count(fs, "spindle"), 0, 1e-3);
  EXPECT_NEAR(feature(fs, "l0.nuc_lymphocyte_frac"), 1.0, 1e-6);
  EXPECT_NEAR(count(fl, "large"), 16, 1e-3);
  EXPECT_NEAR(count(fl, "lymphocyte"), 0, 1e-3);
  EXPECT_NEAR(count(fl, "spindle"), 0, 1e-3);
  EXPECT_NEAR(count(fp, "spindle"), 16, 1e-3);
  EXPECT_NEAR(count(fp, "lymphocyte") + count(fp, "large"), 0, 1e-3);
  EXPECT_NEAR(feature(fp, "l0.nuc_spindle_frac"), 1.0, 1e-6);
  // Per-nucleus haematoxylin: the stain each kind was drawn with; flat discs have no chromatin texture.
  EXPECT_NEAR(feature(fs, "l0.nuc_H_mean"), 1.3, 0.06);
  EXPECT_NEAR(feature(fl, "l0.nuc_H_mean"), 0.8, 0.06);
  EXPECT_NEAR(feature(fl, "l0.nuc_H_sd"), 0.0, 0.01);
  EXPECT_LT(feature(fl, "l0.nuc_chromatin_mean"), 0.02);
  EXPECT_NEAR(feature(fl, "l0.nuc_area_q50"), M_PI * 64, 0.15 * M_PI * 64);
  EXPECT_LT(feature(fs, "l0.nuc_area_q75"), feature(fl, "l0.nuc_area_q25"));
}

TEST(HistoEncoder, DimMatchesOutputAndNamesAreUnique) {
  auto enc = make_histo_encoder({});
  EXPECT_EQ(enc->name(), "histo");
  EXPECT_EQ(enc->input_size(), kHistoInputPx);
  const auto& names = histo_feature_names();
  EXPECT_EQ(enc->dim(), int64_t(names.size()));
  EXPECT_GE(enc->dim(), 100);
  EXPECT_LE(enc->dim(), 200);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  std::vector<cv::Mat> crops(3, discs_on_pink(3, 5));
  Matrix m = enc->embed(crops);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, enc->dim());
}

TEST(HistoEncoder, FiniteOnBlackWhiteAndNoise) {
  auto enc = make_histo_encoder({});
  cv::Mat black(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat white(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::Mat noise(kHistoInputPx, kHistoInputPx, CV_8UC3);
  cv::randu(noise, 0, 256);
  cv::Mat half = discs_on_pink(4, 5);
  half(cv::Rect(0, 0, kHistoInputPx / 2, kHistoInputPx)).setTo(cv::Scalar(0, 0, 0));  // padding
  Matrix m = enc->embed({black, white, noise, half});
  for (float v : m.data) ASSERT_TRUE(std::isfinite(v));
  for (int64_t j = 0; j < m.cols; ++j) EXPECT_EQ(m(0, j), 0.f) << histo_feature_names()[size_t(j)];
  auto fw = features(white);
  EXPECT_EQ(feature(fw, "l0.white_frac"), 1.0f);
  EXPECT_EQ(feature(fw, "l0.nuc_frac_lo"), 0.0f);
  // Black padding is not tissue: half the crop is left out, stains come from the other half only.
  auto fh = features(half);
  EXPECT_NEAR(feature(fh, "l0.tissue_frac"), 0.5, 1e-6);
  EXPECT_NEAR(feature(fh, "l0.od_mean"), feature(features(discs_on_pink(4, 5)), "l0.od_mean"), 0.1);
}

TEST(HistoEncoder, DeterministicAcrossRunsAndThreads) {
  std::vector<cv::Mat> crops;
  for (int i = 0; i < 7; ++i) {
    cv::Mat c = discs_on_pink(2 + i % 3, 3 + i);
    cv::Mat noise(c.size(), CV_8UC3);
    cv::randu(noise, 0, 30);
    crops.push_back(c + noise);
  }
  crops.push_back(cv::Mat(200, 200, CV_8UC3, cv::Scalar(120, 60, 150)));  // any size is resized
  auto enc = make_histo_encoder({});
  int saved = num_threads();
  set_num_threads(1);
  Matrix a = enc->embed(crops);
  set_num_threads(2);
  Matrix b = enc->embed(crops);
  Matrix c = enc->embed(crops);
  set_num_threads(saved);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(b.data, c.data);
  EXPECT_THROW(enc->embed({cv::Mat(8, 8, CV_8UC1)}), std::invalid_argument);
}
