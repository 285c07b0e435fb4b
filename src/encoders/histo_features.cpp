#include "encoders/histo_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "encoders/stain.h"

namespace hiscmcl {
namespace {

// Fixed thresholds (OD units), chosen from her2st C2 spot crops (H: median 0.30, q90 1.0; total OD
// q10 0.25): fixed rather than per-crop Otsu so that fractions compare across crops.
constexpr int kMinValidChannel = 10;     // max(R,G,B) below this: black padding, not tissue
constexpr float kNucLo = 0.5f, kNucHi = 0.8f;  // nuclear fractions at two H levels
constexpr float kNucMask = 0.6f;         // H level of the nucleus mask
constexpr float kWhiteOd = 0.25f;        // total OD below: white / empty (fat, lumen, glass)
constexpr float kEosinE = 0.05f, kEosinMaxH = 0.3f;  // dense eosin, little haematoxylin (stroma)
constexpr float kDarkOd = 2.0f;          // total OD above: very dark (dense clusters, folds, ink)
constexpr float kGlcmStep = 0.2f;        // H quantisation step for the GLCM
// Nucleus classes (fine level, pixels of the 128 px input; ~0.8 um/px for a 100 um ST spot): a
// lymphocyte is ~7 um across (~60 px^2), a tumour nucleus 10-20 um.
constexpr double kSmallNucleus = 60, kLargeNucleus = 130;  // areas, px^2
constexpr double kRound = 0.7, kSpindle = 0.45;            // sqrt(minor / major moment)
constexpr double kDarkNucleusH = 1.0;                      // mean H inside: dense chromatin
constexpr double kFilled = 0.8;                            // ellipse fill of a single nucleus
constexpr int kGlcmLevels = 8;

// Writes values (non-finite -> 0) and, when asked, their names; k counts both.
struct Sink {
  float* out = nullptr;
  std::vector<std::string>* names = nullptr;
  std::string prefix;
  int64_t k = 0;
  void add(const char* name, double v) {
    if (out) out[k] = std::isfinite(v) ? float(v) : 0.f;
    if (names) names->push_back(prefix + name);
    ++k;
  }
};

struct Moments {
  double n = 0, s = 0, ss = 0;
  void add(double v) { n += 1; s += v; ss += v * v; }
  double mean() const { return n > 0 ? s / n : 0.0; }
  double sd() const {
    if (n < 2) return 0.0;
    double m = s / n;
    return std::sqrt(std::max(0.0, ss / n - m * m));
  }
};

// Lower-index quantiles of v (reordered in place); zeros when v is empty.
void add_quantiles(std::vector<float>& v, std::initializer_list<double> qs, const char* const* names,
                   Sink& sink) {
  size_t start = 0, i = 0;
  for (double q : qs) {
    double value = 0;
    if (!v.empty()) {
      size_t idx = size_t(q * double(v.size() - 1));
      std::nth_element(v.begin() + long(start), v.begin() + long(idx), v.end());
      value = v[idx];
      start = idx;
    }
    sink.add(names[i++], value);
  }
}

// cos, sin of OpenCV's 8-bit hue (degrees / 2, 0..179).
const std::array<std::array<double, 2>, 256>& hue_lut() {
  static const std::array<std::array<double, 2>, 256> t = [] {
    std::array<std::array<double, 2>, 256> v{};
    for (int i = 0; i < 256; ++i) v[size_t(i)] = {std::cos(i * M_PI / 90.0), std::sin(i * M_PI / 90.0)};
    return v;
  }();
  return t;
}

// 8-connected nucleus components of mask: density, size, shape, clumping, and (fine level) the
// nucleus classes a pathologist counts. stains: the deconvolved H, E, residual per pixel.
void nucleus_features(const cv::Mat& mask, const cv::Mat& stains, int min_area, double n_valid, bool fine,
                      Sink& sink) {
  cv::Mat labels, stats, centroids;
  int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  // Per component: x, y, xx, yy, xy moments, then H sum and H squares (chromatin).
  std::vector<std::array<double, 7>> mom(size_t(std::max(n, 1)), {0, 0, 0, 0, 0, 0, 0});
  for (int y = 0; y < labels.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    const auto* st = stains.ptr<cv::Vec3f>(y);
    for (int x = 0; x < labels.cols; ++x)
      if (l[x] > 0) {
        auto& m = mom[size_t(l[x])];
        const double h = st[x][0];
        m[0] += x; m[1] += y; m[2] += double(x) * x; m[3] += double(y) * y; m[4] += double(x) * y;
        m[5] += h; m[6] += h * h;
      }
  }
  Moments area, elong, fill, nuc_h, chromatin;
  std::vector<double> areas;
  double n_lymph = 0, n_large = 0, n_spindle = 0;
  for (int c = 1; c < n; ++c) {
    double a = stats.at<int>(c, cv::CC_STAT_AREA);
    if (a < min_area) continue;
    const auto& m = mom[size_t(c)];
    double mx = m[0] / a, my = m[1] / a;
    // + 1/12: each pixel is a unit square, so a one-pixel-wide line has non-zero width.
    double cxx = m[2] / a - mx * mx + 1.0 / 12, cyy = m[3] / a - my * my + 1.0 / 12;
    double cxy = m[4] / a - mx * my;
    double half_tr = 0.5 * (cxx + cyy);
    double disc = std::sqrt(std::max(0.0, 0.25 * (cxx - cyy) * (cxx - cyy) + cxy * cxy));
    double l1 = half_tr + disc, l2 = std::max(1e-9, half_tr - disc);
    const double round = std::sqrt(l2 / l1);  // 1 = round, -> 0 = elongated
    // Area over that of the ellipse with the same second moments: 1 for a filled ellipse.
    const double filled = std::min(2.0, a / (4.0 * M_PI * std::sqrt(l1 * l2)));
    const double h_mean = m[5] / a;
    area.add(a);
    areas.push_back(a);
    elong.add(round);
    fill.add(filled);
    nuc_h.add(h_mean);
    chromatin.add(std::sqrt(std::max(0.0, m[6] / a - h_mean * h_mean)));
    // Classes by size, shape and darkness (thresholds in pixels of the 128 px input; for a spot
    // crop of a 100 um ST spot ~0.8 um/px). Lymphocyte-like: small, round, dark. Large
    // pleomorphic (tumour-like): large and filled (one nucleus, not touching ones). Spindle
    // (fibroblast / smooth muscle-like): elongated.
    n_lymph += a <= kSmallNucleus && round >= kRound && h_mean >= kDarkNucleusH;
    n_large += a >= kLargeNucleus && filled >= kFilled;
    n_spindle += round < kSpindle;
  }
  double clumped = 0;
  if (!areas.empty()) {
    std::vector<double> sorted = areas;
    std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
    double median = sorted[sorted.size() / 2];
    for (double a : areas)
      if (a > 3 * median) clumped += a;
    clumped /= area.s;
  }
  // Touching nuclei merge into one component; distance-transform peaks (plateaus merged) count
  // them apart: local maxima of the distance to the background, at least 2 px deep.
  cv::Mat dist, dil, peaks, peak_labels;
  cv::distanceTransform(mask, dist, cv::DIST_L2, 3);
  cv::dilate(dist, dil, cv::Mat::ones(5, 5, CV_8U));
  cv::Mat deep = dist >= 2.0f;
  cv::compare(dist, dil, peaks, cv::CMP_GE);
  peaks &= deep;
  int n_peaks = cv::connectedComponents(peaks, peak_labels, 8, CV_32S) - 1;
  const double per_1000 = n_valid > 0 ? 1000.0 / n_valid : 0.0;  // per 1000 tissue pixels
  sink.add("nuc_density", area.n * per_1000);
  sink.add("nuc_peak_density", n_peaks * per_1000);
  sink.add("nuc_area_mean", area.mean());
  sink.add("nuc_area_sd", area.sd());
  sink.add("nuc_roundness_mean", elong.mean());
  sink.add("nuc_roundness_sd", elong.sd());
  sink.add("nuc_fill_mean", fill.mean());
  sink.add("nuc_clumped_frac", clumped);
  if (!fine) return;  // at 64 px a nucleus is a few pixels: no size classes, no chromatin
  std::vector<float> a_sorted(areas.begin(), areas.end());
  static const char* const area_q[] = {"nuc_area_q25", "nuc_area_q50", "nuc_area_q75"};
  add_quantiles(a_sorted, {0.25, 0.5, 0.75}, area_q, sink);
  sink.add("nuc_H_mean", nuc_h.mean());
  sink.add("nuc_H_sd", nuc_h.sd());
  sink.add("nuc_chromatin_mean", chromatin.mean());
  const double per_nucleus = area.n > 0 ? 1.0 / area.n : 0.0;
  sink.add("nuc_lymphocyte_density", n_lymph * per_1000);
  sink.add("nuc_large_density", n_large * per_1000);
  sink.add("nuc_spindle_density", n_spindle * per_1000);
  sink.add("nuc_lymphocyte_frac", n_lymph * per_nucleus);
  sink.add("nuc_large_frac", n_large * per_nucleus);
  sink.add("nuc_spindle_frac", n_spindle * per_nucleus);
}

// Symmetric GLCM of q (levels kGlcmLevels, -1 = excluded) at distance d, horizontal + vertical.
void glcm_features(const cv::Mat& q, int d, Sink& sink, const char* const* names) {
  double P[kGlcmLevels][kGlcmLevels] = {};
  double total = 0;
  for (int y = 0; y < q.rows; ++y) {
    const int8_t* r = q.ptr<int8_t>(y);
    const int8_t* below = y + d < q.rows ? q.ptr<int8_t>(y + d) : nullptr;
    for (int x = 0; x < q.cols; ++x) {
      int a = r[x];
      if (a < 0) continue;
      if (x + d < q.cols && r[x + d] >= 0) { P[a][r[x + d]] += 1; P[r[x + d]][a] += 1; total += 2; }
      if (below && below[x] >= 0) { P[a][below[x]] += 1; P[below[x]][a] += 1; total += 2; }
    }
  }
  double contrast = 0, homog = 0, asm_ = 0, mu = 0, var = 0, cov = 0, corr = 0;
  if (total > 0) {
    for (int i = 0; i < kGlcmLevels; ++i)
      for (int j = 0; j < kGlcmLevels; ++j) {
        double p = P[i][j] / total;
        contrast += p * (i - j) * (i - j);
        homog += p / (1.0 + (i - j) * (i - j));
        asm_ += p * p;
        mu += p * i;
      }
    for (int i = 0; i < kGlcmLevels; ++i)
      for (int j = 0; j < kGlcmLevels; ++j) {
        double p = P[i][j] / total;
        var += p * (i - mu) * (i - mu);
        cov += p * (i - mu) * (j - mu);
      }
    corr = var > 1e-12 ? cov / var : 1.0;  // a constant region is perfectly correlated
  }
  sink.add(names[0], contrast);
  sink.add(names[1], homog);
  sink.add(names[2], std::sqrt(asm_));
  sink.add(names[3], corr);
}

// The block of statistics of one resolution level.
void level_features(const cv::Mat& rgb, bool fine, Sink& sink) {
  const int h = rgb.rows, w = rgb.cols;
  const auto& od = optical_density_table();
  const auto& hue = hue_lut();
  cv::Mat stains = deconvolve_stains(rgb);
  cv::Mat hsv, lab, grey;
  cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);
  cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);

  cv::Mat valid(h, w, CV_8U), nuc(h, w, CV_8U);
  cv::Mat hq(h, w, CV_8S);
  std::vector<float> hv, ev;
  hv.reserve(size_t(h * w));
  ev.reserve(size_t(h * w));
  Moments mD, mOD, mR, mG, mB, mS, mV, mL, mA, mBb;
  double hue_cos = 0, hue_sin = 0;
  double n_lo = 0, n_hi = 0, n_white = 0, n_eosin = 0, n_dark = 0;
  for (int y = 0; y < h; ++y) {
    const auto* p = rgb.ptr<cv::Vec3b>(y);
    const auto* s = stains.ptr<cv::Vec3f>(y);
    const auto* ph = hsv.ptr<cv::Vec3b>(y);
    const auto* pl = lab.ptr<cv::Vec3b>(y);
    uint8_t* v = valid.ptr<uint8_t>(y);
    uint8_t* nm = nuc.ptr<uint8_t>(y);
    int8_t* q = hq.ptr<int8_t>(y);
    for (int x = 0; x < w; ++x) {
      const cv::Vec3b c = p[x];
      bool ok = std::max({c[0], c[1], c[2]}) >= kMinValidChannel;
      v[x] = ok ? 255 : 0;
      nm[x] = 0;
      q[x] = -1;
      if (!ok) continue;
      float H = s[x][0], E = s[x][1], D = s[x][2];
      float total = od[c[0]] + od[c[1]] + od[c[2]];
      hv.push_back(H);
      ev.push_back(E);
      mD.add(D);
      mOD.add(total);
      n_lo += H > kNucLo;
      n_hi += H > kNucHi;
      n_white += total < kWhiteOd;
      n_eosin += E > kEosinE && H < kEosinMaxH;
      n_dark += total > kDarkOd;
      nm[x] = H > kNucMask ? 255 : 0;
      q[x] = int8_t(std::clamp(int(std::floor(H / kGlcmStep)), 0, kGlcmLevels - 1));
      mR.add(c[0]); mG.add(c[1]); mB.add(c[2]);
      hue_cos += hue[ph[x][0]][0];
      hue_sin += hue[ph[x][0]][1];
      mS.add(ph[x][1] / 255.0); mV.add(ph[x][2] / 255.0);
      mL.add(pl[x][0] / 2.55); mA.add(pl[x][1] - 128.0); mBb.add(pl[x][2] - 128.0);
    }
  }
  const double n_valid = double(hv.size());
  const double inv = n_valid > 0 ? 1.0 / n_valid : 0.0;
  sink.add("tissue_frac", n_valid / double(h * w));

  // Stains.
  Moments mH, mE;
  for (float x : hv) mH.add(x);
  for (float x : ev) mE.add(x);
  static const char* const hq_names[] = {"H_q10", "H_q25", "H_q50", "H_q75", "H_q90"};
  static const char* const eq_names[] = {"E_q10", "E_q25", "E_q50", "E_q75", "E_q90"};
  sink.add("H_mean", mH.mean());
  sink.add("H_sd", mH.sd());
  add_quantiles(hv, {0.1, 0.25, 0.5, 0.75, 0.9}, hq_names, sink);
  sink.add("E_mean", mE.mean());
  sink.add("E_sd", mE.sd());
  add_quantiles(ev, {0.1, 0.25, 0.5, 0.75, 0.9}, eq_names, sink);
  sink.add("residual_mean", mD.mean());
  sink.add("residual_sd", mD.sd());
  sink.add("od_mean", mOD.mean());
  sink.add("od_sd", mOD.sd());

  // Composition.
  sink.add("nuc_frac_lo", n_lo * inv);
  sink.add("nuc_frac_hi", n_hi * inv);
  sink.add("white_frac", n_white * inv);
  sink.add("eosin_dense_frac", n_eosin * inv);
  sink.add("dark_frac", n_dark * inv);

  // Nuclei. A 3x3 opening at full resolution drops speckle; at half resolution nuclei are too
  // small to survive it.
  if (fine) cv::morphologyEx(nuc, nuc, cv::MORPH_OPEN, cv::Mat::ones(3, 3, CV_8U));
  nucleus_features(nuc, stains, fine ? 6 : 2, n_valid, fine, sink);
  Moments h_in, h_out, e_out;
  for (int y = 0; y < h; ++y) {
    const uint8_t* v = valid.ptr<uint8_t>(y);
    const uint8_t* nm = nuc.ptr<uint8_t>(y);
    const auto* s = stains.ptr<cv::Vec3f>(y);
    for (int x = 0; x < w; ++x) {
      if (!v[x]) continue;
      if (nm[x]) {
        h_in.add(s[x][0]);
      } else {
        h_out.add(s[x][0]);
        e_out.add(s[x][1]);
      }
    }
  }
  sink.add("H_in_nuclei", h_in.mean());
  sink.add("H_outside_nuclei", h_out.mean());
  sink.add("E_outside_nuclei", e_out.mean());

  // Colour.
  sink.add("R_mean", mR.mean() / 255.0); sink.add("R_sd", mR.sd() / 255.0);
  sink.add("G_mean", mG.mean() / 255.0); sink.add("G_sd", mG.sd() / 255.0);
  sink.add("B_mean", mB.mean() / 255.0); sink.add("B_sd", mB.sd() / 255.0);
  sink.add("hue_cos", hue_cos * inv); sink.add("hue_sin", hue_sin * inv);
  sink.add("sat_mean", mS.mean()); sink.add("sat_sd", mS.sd());
  sink.add("val_mean", mV.mean()); sink.add("val_sd", mV.sd());
  sink.add("L_mean", mL.mean()); sink.add("L_sd", mL.sd());
  sink.add("a_mean", mA.mean()); sink.add("a_sd", mA.sd());
  sink.add("b_mean", mBb.mean()); sink.add("b_sd", mBb.sd());

  // Texture on grey, away from padding edges (an eroded tissue mask).
  cv::Mat inner;
  cv::erode(valid, inner, cv::Mat::ones(3, 3, CV_8U));
  cv::Mat gx, gy;
  cv::Sobel(grey, gx, CV_32F, 1, 0, 3);
  cv::Sobel(grey, gy, CV_32F, 0, 1, 3);
  std::vector<float> mag;
  mag.reserve(size_t(h * w));
  Moments mMag;
  std::array<double, 10> lbp{};
  double n_lbp = 0;
  static const int dy[8] = {-1, -1, -1, 0, 1, 1, 1, 0}, dx[8] = {-1, 0, 1, 1, 1, 0, -1, -1};
  for (int y = 0; y < h; ++y) {
    const uint8_t* in = inner.ptr<uint8_t>(y);
    const float* px = gx.ptr<float>(y);
    const float* py = gy.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      if (!in[x]) continue;
      float m = std::sqrt(px[x] * px[x] + py[x] * py[x]) / 8.f;  // Sobel gain 8 -> grey levels/px
      mag.push_back(m);
      mMag.add(m);
      if (y == 0 || x == 0 || y == h - 1 || x == w - 1) continue;
      uint8_t gc = grey.at<uint8_t>(y, x);
      int bits[8], ones = 0, transitions = 0;
      for (int k = 0; k < 8; ++k) {
        bits[k] = grey.at<uint8_t>(y + dy[k], x + dx[k]) >= gc;
        ones += bits[k];
      }
      for (int k = 0; k < 8; ++k) transitions += bits[k] != bits[(k + 1) % 8];
      lbp[size_t(transitions <= 2 ? ones : 9)] += 1;  // rotation-invariant uniform (riu2)
      n_lbp += 1;
    }
  }
  static const char* const mag_q[] = {"grad_q50", "grad_q90"};
  sink.add("grad_mean", mMag.mean());
  sink.add("grad_sd", mMag.sd());
  add_quantiles(mag, {0.5, 0.9}, mag_q, sink);
  static const char* const lbp_names[] = {"lbp0", "lbp1", "lbp2", "lbp3", "lbp4",
                                          "lbp5", "lbp6", "lbp7", "lbp8", "lbp_nonuniform"};
  for (size_t k = 0; k < 10; ++k) sink.add(lbp_names[k], n_lbp > 0 ? lbp[k] / n_lbp : 0.0);
  static const char* const g1[] = {"glcm1_contrast", "glcm1_homogeneity", "glcm1_energy",
                                   "glcm1_correlation"};
  static const char* const g2[] = {"glcm2_contrast", "glcm2_homogeneity", "glcm2_energy",
                                   "glcm2_correlation"};
  glcm_features(hq, 1, sink, g1);
  glcm_features(hq, 2, sink, g2);
}

void all_features(const cv::Mat& rgb, Sink& sink) {
  if (rgb.type() != CV_8UC3 || rgb.empty())
    throw std::invalid_argument("histo encoder: crops must be non-empty RGB uint8 (CV_8UC3)");
  cv::Mat l0 = rgb;
  if (rgb.rows != kHistoInputPx || rgb.cols != kHistoInputPx) {
    int interp = rgb.rows > kHistoInputPx ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(rgb, l0, cv::Size(kHistoInputPx, kHistoInputPx), 0, 0, interp);
  }
  sink.prefix = "l0.";
  level_features(l0, true, sink);
  cv::Mat l1;
  cv::resize(l0, l1, cv::Size(kHistoInputPx / 2, kHistoInputPx / 2), 0, 0, cv::INTER_AREA);
  sink.prefix = "l1.";
  level_features(l1, false, sink);
}

}  // namespace

const std::vector<std::string>& histo_feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    Sink sink;
    sink.names = &n;
    all_features(cv::Mat(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(0, 0, 0)), sink);
    return n;
  }();
  return names;
}

int64_t histo_feature_dim() { return int64_t(histo_feature_names().size()); }

void histo_features(const cv::Mat& rgb, float* out) {
  Sink sink;
  sink.out = out;
  all_features(rgb, sink);
}

}  // namespace hiscmcl
