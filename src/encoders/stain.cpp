#include "encoders/stain.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace hiscmcl {
namespace {

Vec3d unit(Vec3d v) {
  double n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  return {v[0] / n, v[1] / n, v[2] / n};
}

std::array<Vec3d, 3> inverse3(const std::array<Vec3d, 3>& a) {
  double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
               a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
               a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  if (std::abs(det) < 1e-12) throw std::invalid_argument("stain matrix is singular");
  std::array<Vec3d, 3> inv{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // cofactor of a[j][i] (transposed adjugate)
      int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      inv[i][j] = (a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]) / det;
    }
  return inv;
}

}  // namespace

const std::array<float, 256>& optical_density_table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> v{};
    for (int i = 0; i < 256; ++i) v[size_t(i)] = float(optical_density(uint8_t(i)));
    return v;
  }();
  return t;
}

const StainMatrix& ruifrok_hed() {
  static const StainMatrix m = [] {
    StainMatrix s;
    s.rgb_from_stain = {unit({0.65, 0.70, 0.29}), unit({0.07, 0.99, 0.11}),
                        unit({0.27, 0.57, 0.78})};
    s.stain_from_rgb = inverse3(s.rgb_from_stain);
    return s;
  }();
  return m;
}

double optical_density(uint8_t intensity) { return -std::log10((double(intensity) + 1.0) / 256.0); }

Vec3d stain_concentrations(uint8_t r, uint8_t g, uint8_t b, const StainMatrix& m) {
  const auto& t = optical_density_table();
  double od[3] = {t[r], t[g], t[b]};
  Vec3d c{};
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (int k = 0; k < 3; ++k) s += od[k] * m.stain_from_rgb[size_t(k)][size_t(j)];
    c[size_t(j)] = s;
  }
  return c;
}

cv::Mat deconvolve_stains(const cv::Mat& rgb, const StainMatrix& m) {
  CV_Assert(rgb.type() == CV_8UC3);
  const auto& t = optical_density_table();
  float w[3][3];
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j) w[k][j] = float(m.stain_from_rgb[size_t(k)][size_t(j)]);
  cv::Mat out(rgb.size(), CV_32FC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* in = rgb.ptr<cv::Vec3b>(y);
    auto* o = out.ptr<cv::Vec3f>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      float od0 = t[in[x][0]], od1 = t[in[x][1]], od2 = t[in[x][2]];
      for (int j = 0; j < 3; ++j)
        o[x][j] = (od0 * w[0][j] + od1 * w[1][j] + od2 * w[2][j]);
    }
  }
  return out;
}

cv::Vec3b rgb_from_concentrations(const Vec3d& c, const StainMatrix& m) {
  cv::Vec3b px;
  for (int k = 0; k < 3; ++k) {
    double od = 0;
    for (int j = 0; j < 3; ++j) od += c[size_t(j)] * m.rgb_from_stain[size_t(j)][size_t(k)];
    double v = 256.0 * std::pow(10.0, -od) - 1.0;
    px[k] = uint8_t(std::lround(std::clamp(v, 0.0, 255.0)));
  }
  return px;
}

cv::Mat perturb_stains(const cv::Mat& rgb, const Vec3d& scale, const Vec3d& shift, const StainMatrix& m) {
  CV_Assert(rgb.type() == CV_8UC3);
  cv::Mat c = deconvolve_stains(rgb, m);
  // OD_k = sum_j (c_j s_j + b_j) M[j][k]: fold the scale into the matrix and the shift into an offset.
  float w[3][3], offset[3];
  for (int k = 0; k < 3; ++k) {
    offset[k] = 0;
    for (int j = 0; j < 3; ++j) {
      w[j][k] = float(scale[size_t(j)] * m.rgb_from_stain[size_t(j)][size_t(k)]);
      offset[k] += float(shift[size_t(j)] * m.rgb_from_stain[size_t(j)][size_t(k)]);
    }
  }
  cv::Mat out(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* in = c.ptr<cv::Vec3f>(y);
    auto* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < rgb.cols; ++x)
      for (int k = 0; k < 3; ++k) {
        const float od = in[x][0] * w[0][k] + in[x][1] * w[1][k] + in[x][2] * w[2][k] + offset[k];
        const float v = 256.0f * std::pow(10.0f, -od) - 1.0f;
        o[x][k] = uint8_t(std::lround(std::clamp(v, 0.0f, 255.0f)));
      }
  }
  return out;
}

}  // namespace hiscmcl
