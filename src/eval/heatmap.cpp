#include "eval/heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "common/atomic_output.h"
#include "common/error.h"

namespace hiscmcl {
namespace {

constexpr int kPanelSide = 440;  // longest side of each panel, px
constexpr int kMargin = 16, kTitleBand = 44, kLabelBand = 26, kBarWidth = 18, kBarLabels = 78;
const cv::Scalar kInk(40, 40, 40), kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

const cv::Mat& viridis_lut() {
  static const cv::Mat lut = [] {
    cv::Mat ramp(1, 256, CV_8UC1), out;
    for (int i = 0; i < 256; ++i) ramp.at<uchar>(0, i) = uchar(i);
    cv::applyColorMap(ramp, out, cv::COLORMAP_VIRIDIS);
    return out;
  }();
  return lut;
}

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

cv::Mat to_bgr(const cv::Mat& img) {
  cv::Mat bgr;
  if (img.channels() == 3) cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
  else if (img.channels() == 4) cv::cvtColor(img, bgr, cv::COLOR_RGBA2BGR);
  else if (img.channels() == 1) cv::cvtColor(img, bgr, cv::COLOR_GRAY2BGR);
  else throw std::invalid_argument("heatmap: thumbnail must have 1, 3 or 4 channels");
  if (bgr.depth() != CV_8U) bgr.convertTo(bgr, CV_8U);
  return bgr;
}

// Largest font scale (<= max_scale) at which text fits in width px.
double fit_font(const std::string& text, int width, double max_scale, int thickness) {
  int base = 0;
  cv::Size s = cv::getTextSize(text, kFont, 1.0, thickness, &base);
  return s.width <= 0 ? max_scale : std::min(max_scale, 0.95 * width / s.width);
}

void draw_text(cv::Mat& img, const std::string& text, cv::Point org, double scale, int thickness) {
  cv::putText(img, text, org, kFont, scale, kInk, thickness, cv::LINE_AA);
}

// The lightened H&E under the spots, cropped to them (plus a margin) so the tissue fills a panel
// of kPanelSide px; spot centres map to panel pixels through centre().
struct PanelBase {
  cv::Mat base;
  cv::Rect roi;
  double scale = 1, downsample = 1;
  int radius = 2;
  cv::Point centre(const cv::Point2d& p) const {
    return {int(std::lround((p.x / downsample - roi.x) * scale)), int(std::lround((p.y / downsample - roi.y) * scale))};
  }
};

PanelBase panel_base(const cv::Mat& he_rgb_thumbnail, double downsample, const std::vector<cv::Point2d>& spot_px,
                     double spot_diameter_px) {
  if (he_rgb_thumbnail.empty()) throw std::invalid_argument("heatmap: empty thumbnail");
  if (!(downsample > 0)) throw std::invalid_argument("heatmap: downsample must be positive");
  cv::Mat thumb = to_bgr(he_rgb_thumbnail);
  PanelBase pb;
  pb.downsample = downsample;
  const double r_thumb = std::max(spot_diameter_px / downsample / 2, 0.5);
  pb.roi = cv::Rect(0, 0, thumb.cols, thumb.rows);
  if (!spot_px.empty()) {
    double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
    for (const auto& p : spot_px) {
      x0 = std::min(x0, p.x / downsample), x1 = std::max(x1, p.x / downsample);
      y0 = std::min(y0, p.y / downsample), y1 = std::max(y1, p.y / downsample);
    }
    const double pad = 4 * r_thumb + 4;
    cv::Rect want(cv::Point(int(std::floor(x0 - pad)), int(std::floor(y0 - pad))),
                  cv::Point(int(std::ceil(x1 + pad)), int(std::ceil(y1 + pad))));
    cv::Rect clipped = want & pb.roi;
    if (clipped.area() > 0) pb.roi = clipped;
  }
  pb.scale = double(kPanelSide) / std::max(pb.roi.width, pb.roi.height);
  cv::resize(thumb(pb.roi), pb.base, cv::Size(), pb.scale, pb.scale, pb.scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  pb.base.convertTo(pb.base, CV_8U, 0.45, 255 * 0.55);  // lighten the stain so colours read clearly
  pb.radius = std::max(2, int(std::lround(r_thumb * pb.scale)));
  return pb;
}

}  // namespace

cv::Vec3b viridis_bgr(double t) {
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  return viridis_lut().at<cv::Vec3b>(0, int(std::lround(t * 255)));
}

cv::Mat render_heatmap(const cv::Mat& he_rgb_thumbnail, double downsample,
                       const std::vector<cv::Point2d>& spot_px,
                       const std::vector<HeatmapPanel>& panels, double spot_diameter_px,
                       const std::string& title, HeatmapScale colour_scale) {
  if (panels.empty()) throw std::invalid_argument("heatmap: no panels");
  for (const auto& p : panels)
    if (p.values.size() != spot_px.size())
      throw std::invalid_argument("heatmap: " + std::to_string(p.values.size()) + " values for " +
                                  std::to_string(spot_px.size()) + " spots");
  const PanelBase pb = panel_base(he_rgb_thumbnail, downsample, spot_px, spot_diameter_px);
  const cv::Mat& base = pb.base;

  // The colour range of each panel: one for all, or each its own.
  auto finite_range = [](const std::vector<float>& values, double& lo, double& hi) {
    for (float v : values)
      if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  };
  // Own scales span the 2nd to 98th percentile: one outlying spot (a measured 0 among counts of
  // 20) would otherwise squeeze every other spot into one colour. Values beyond take the end colours.
  auto robust_range = [](const std::vector<float>& values, double& lo, double& hi) {
    std::vector<double> v;
    for (float x : values)
      if (std::isfinite(x)) v.push_back(x);
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      const double pos = q * double(v.size() - 1);
      const size_t i = size_t(pos);
      return i + 1 < v.size() ? v[i] + (pos - double(i)) * (v[i + 1] - v[i]) : v[i];
    };
    lo = at(0.02), hi = at(0.98);
  };
  std::vector<std::array<double, 2>> range(panels.size(), {1e300, -1e300});
  for (size_t k = 0; k < panels.size(); ++k) {
    if (colour_scale == HeatmapScale::per_panel) {
      robust_range(panels[k].values, range[k][0], range[k][1]);
      continue;
    }
    for (const auto& p : panels) finite_range(p.values, range[k][0], range[k][1]);
  }
  for (auto& r : range)
    if (r[0] > r[1]) r = {0, 1};

  const bool own_bars = colour_scale == HeatmapScale::per_panel && panels.size() > 1;
  const int pw = base.cols, ph = base.rows;
  const int bar_block = kBarWidth + kBarLabels;
  const int step = pw + kMargin + (own_bars ? bar_block : 0);  // one panel (and its bar)
  const int width = kMargin + int(panels.size()) * step + (own_bars ? 0 : bar_block);
  const int top = kTitleBand + kLabelBand;
  const int height = top + ph + kMargin;
  cv::Mat canvas(height, width, CV_8UC3, kWhite);

  const double title_scale = fit_font(title, width - 2 * kMargin, 0.75, 2);
  draw_text(canvas, title, {kMargin, kTitleBand - 14}, title_scale, 2);

  // Colour bar at x = bx: max at the top, min at the bottom, with three ticks.
  auto draw_bar = [&](int bx, double lo, double hi) {
    for (int y = 0; y < ph; ++y) {
      cv::Vec3b col = viridis_bgr(1.0 - double(y) / std::max(ph - 1, 1));
      cv::line(canvas, {bx, top + y}, {bx + kBarWidth - 1, top + y}, cv::Scalar(col[0], col[1], col[2]));
    }
    cv::rectangle(canvas, cv::Rect(bx - 1, top - 1, kBarWidth + 2, ph + 2), cv::Scalar(120, 120, 120));
    const double tick_scale = 0.45;
    for (int i = 0; i <= 2; ++i) {
      const int y = top + (ph - 1) * i / 2;
      cv::line(canvas, {bx + kBarWidth, y}, {bx + kBarWidth + 4, y}, kInk);
      draw_text(canvas, short_number(hi - (hi - lo) * i / 2), {bx + kBarWidth + 7, y + 5}, tick_scale, 1);
    }
  };

  const int radius = pb.radius;
  for (size_t k = 0; k < panels.size(); ++k) {
    const double lo = range[k][0], hi = range[k][1];
    auto to_t = [&](double v) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; };
    const int x_off = kMargin + int(k) * step;
    cv::Mat panel = canvas(cv::Rect(x_off, top, pw, ph));
    base.copyTo(panel);
    cv::rectangle(canvas, cv::Rect(x_off - 1, top - 1, pw + 2, ph + 2), cv::Scalar(200, 200, 200));
    if (!panels[k].label.empty())
      draw_text(canvas, panels[k].label, {x_off, top - 8}, fit_font(panels[k].label, pw, 0.6, 1), 1);
    // NaN spots first, so coloured spots stay on top where they overlap.
    for (size_t i = 0; i < spot_px.size(); ++i) {
      if (std::isfinite(panels[k].values[i])) continue;
      cv::circle(panel, pb.centre(spot_px[i]), radius, cv::Scalar(150, 150, 150), 1, cv::LINE_AA);
    }
    for (size_t i = 0; i < spot_px.size(); ++i) {
      float v = panels[k].values[i];
      if (!std::isfinite(v)) continue;
      cv::Vec3b col = viridis_bgr(to_t(v));
      cv::circle(panel, pb.centre(spot_px[i]), radius, cv::Scalar(col[0], col[1], col[2]), cv::FILLED, cv::LINE_AA);
    }
    if (own_bars) draw_bar(x_off + pw + kMargin / 2, lo, hi);
  }
  if (!own_bars) draw_bar(kMargin + int(panels.size()) * step, range[0][0], range[0][1]);
  return canvas;
}

cv::Vec3b region_bgr(int region) {
  // tab10, then tab20's light tones: distinct on a light H&E background
  static const uint32_t kRgb[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2,
                                  0x7f7f7f, 0xbcbd22, 0x17becf, 0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896,
                                  0xc5b0d5, 0xc49c94, 0xf7b6d2, 0xc7c7c7, 0xdbdb8d, 0x9edae5};
  const uint32_t c = kRgb[size_t(std::max(region, 0)) % std::size(kRgb)];
  return {uchar(c & 0xff), uchar((c >> 8) & 0xff), uchar(c >> 16)};
}

cv::Mat render_region_map(const cv::Mat& he_rgb_thumbnail, double downsample, const std::vector<cv::Point2d>& spot_px,
                          const std::vector<RegionPanel>& panels, double spot_diameter_px, const std::string& title,
                          const std::vector<std::string>& region_names) {
  if (panels.empty()) throw std::invalid_argument("region map: no panels");
  for (const auto& p : panels) {
    if (p.regions.size() != spot_px.size())
      throw std::invalid_argument("region map: " + std::to_string(p.regions.size()) + " regions for " +
                                  std::to_string(spot_px.size()) + " spots");
    for (int r : p.regions)
      if (r >= int(region_names.size())) throw std::invalid_argument("region map: region " + std::to_string(r) + " has no name");
  }
  const PanelBase pb = panel_base(he_rgb_thumbnail, downsample, spot_px, spot_diameter_px);
  const int pw = pb.base.cols, ph = pb.base.rows, step = pw + kMargin;
  int legend_w = 0;
  for (const auto& name : region_names) {
    int b = 0;
    legend_w = std::max(legend_w, cv::getTextSize(name, kFont, 0.5, 1, &b).width);
  }
  legend_w = std::min(legend_w, 260) + 34;
  const int top = kTitleBand + kLabelBand;
  const int width = kMargin + int(panels.size()) * step + legend_w;
  const int row_h = 22;
  const int height = top + std::max(ph, int(region_names.size()) * row_h) + kMargin;
  cv::Mat canvas(height, width, CV_8UC3, kWhite);
  draw_text(canvas, title, {kMargin, kTitleBand - 14}, fit_font(title, width - 2 * kMargin, 0.75, 2), 2);
  for (size_t k = 0; k < panels.size(); ++k) {
    const int x_off = kMargin + int(k) * step;
    cv::Mat panel = canvas(cv::Rect(x_off, top, pw, ph));
    pb.base.copyTo(panel);
    cv::rectangle(canvas, cv::Rect(x_off - 1, top - 1, pw + 2, ph + 2), cv::Scalar(200, 200, 200));
    if (!panels[k].label.empty())
      draw_text(canvas, panels[k].label, {x_off, top - 8}, fit_font(panels[k].label, pw, 0.6, 1), 1);
    for (size_t i = 0; i < spot_px.size(); ++i) {
      const int r = panels[k].regions[i];
      if (r < 0) {
        cv::circle(panel, pb.centre(spot_px[i]), pb.radius, cv::Scalar(150, 150, 150), 1, cv::LINE_AA);
        continue;
      }
      const cv::Vec3b c = region_bgr(r);
      cv::circle(panel, pb.centre(spot_px[i]), pb.radius, cv::Scalar(c[0], c[1], c[2]), cv::FILLED, cv::LINE_AA);
    }
  }
  const int lx = kMargin + int(panels.size()) * step;
  for (size_t r = 0; r < region_names.size(); ++r) {
    const int y = top + int(r) * row_h + row_h / 2;
    const cv::Vec3b c = region_bgr(int(r));
    cv::circle(canvas, {lx + 8, y}, 7, cv::Scalar(c[0], c[1], c[2]), cv::FILLED, cv::LINE_AA);
    draw_text(canvas, region_names[r], {lx + 22, y + 5}, fit_font(region_names[r], legend_w - 26, 0.5, 1), 1);
  }
  return canvas;
}

void write_region_map_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail, double downsample,
                          const std::vector<cv::Point2d>& spot_px, const std::vector<RegionPanel>& panels,
                          double spot_diameter_px, const std::string& title,
                          const std::vector<std::string>& region_names) {
  write_png_atomic(path, render_region_map(he_rgb_thumbnail, downsample, spot_px, panels, spot_diameter_px, title,
                                           region_names));
}

void write_png_atomic(const std::filesystem::path& path, const cv::Mat& bgr) {
  std::vector<uchar> buf;
  if (!cv::imencode(".png", bgr, buf)) throw InputError(path.string(), "PNG encoding failed");
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary);
    if (!f) throw InputError(path.string(), "cannot open for writing");
    f.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(buf.size()));
    f.close();  // a full disk shows at the last flush
    if (!f) throw InputError(path.string(), "write failed (disk full?)");
  }
  out.commit();
}

void write_heatmap_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail,
                       double downsample, const std::vector<cv::Point2d>& spot_px,
                       const std::vector<float>& values, double spot_diameter_px,
                       const std::string& title) {
  write_png_atomic(path, render_heatmap(he_rgb_thumbnail, downsample, spot_px, {{"", values}},
                                        spot_diameter_px, title));
}

void write_heatmap_pair_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail,
                            double downsample, const std::vector<cv::Point2d>& spot_px,
                            const std::vector<float>& predicted, const std::vector<float>& measured,
                            double spot_diameter_px, const std::string& title) {
  write_png_atomic(path, render_heatmap(he_rgb_thumbnail, downsample, spot_px,
                                        {{"predicted (own scale, 2-98%)", predicted}, {"measured (own scale, 2-98%)", measured}},
                                        spot_diameter_px, title, HeatmapScale::per_panel));
}

HeatmapBackground heatmap_background(const SlideImage& image, int max_side) {
  double down = std::max(1.0, std::max(image.width(), image.height()) / double(max_side));
  HeatmapBackground bg;
  bg.rgb = image.thumbnail(down);
  bg.downsample = double(image.width()) / bg.rgb.cols;  // what the thumbnail really is
  return bg;
}

std::vector<cv::Point2d> to_points(const std::vector<std::array<double, 2>>& xy) {
  std::vector<cv::Point2d> pts;
  pts.reserve(xy.size());
  for (auto& p : xy) pts.emplace_back(p[0], p[1]);
  return pts;
}

}  // namespace hiscmcl
