#include "predict/tissue_grid.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace hiscmcl {

cv::Mat tissue_mask(const cv::Mat& rgb) {
  cv::Mat hsv, channels[3], mask;
  cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);
  cv::split(hsv, channels);
  cv::Mat sat;
  cv::GaussianBlur(channels[1], sat, cv::Size(5, 5), 0);
  cv::threshold(sat, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  // Pure black (masked renderings, padding) is not tissue whatever its saturation.
  cv::Mat dark;
  cv::inRange(channels[2], 0, 20, dark);
  mask.setTo(0, dark);
  int k = std::max(3, std::min(rgb.cols, rgb.rows) / 100) | 1;
  cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k, k));
  cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, kernel);
  cv::morphologyEx(mask, mask, cv::MORPH_OPEN, kernel);
  return mask;
}

QuerySpots tissue_grid(const SlideImage& image, double spot_diameter_px, double pitch_px) {
  double down = std::max(1.0, std::max(image.width(), image.height()) / 2000.0);
  cv::Mat thumb = image.thumbnail(down);
  double sx = double(image.width()) / thumb.cols, sy = double(image.height()) / thumb.rows;
  cv::Mat mask = tissue_mask(thumb);
  QuerySpots q;
  q.format = "grid";
  int nx = int(image.width() / pitch_px), ny = int(image.height() / pitch_px);
  double x0 = (image.width() - (nx - 1) * pitch_px) / 2, y0 = (image.height() - (ny - 1) * pitch_px) / 2;
  double r = spot_diameter_px / 2;
  for (int gy = 0; gy < ny; ++gy)
    for (int gx = 0; gx < nx; ++gx) {
      double cx = x0 + gx * pitch_px, cy = y0 + gy * pitch_px;
      if (cx - r < 0 || cy - r < 0 || cx + r >= image.width() || cy + r >= image.height()) continue;
      // Fraction of the spot disc (sampled on the thumbnail) that is tissue.
      int inside = 0, total = 0;
      for (int dy = -4; dy <= 4; ++dy)
        for (int dx = -4; dx <= 4; ++dx) {
          if (dx * dx + dy * dy > 16) continue;
          int tx = int((cx + dx * r / 4) / sx), ty = int((cy + dy * r / 4) / sy);
          tx = std::clamp(tx, 0, mask.cols - 1);
          ty = std::clamp(ty, 0, mask.rows - 1);
          inside += mask.at<uint8_t>(ty, tx) > 0;
          ++total;
        }
      if (inside * 2 < total) continue;
      q.ids.push_back(std::to_string(gx + 1) + "x" + std::to_string(gy + 1));
      q.pixel_xy.push_back({cx, cy});
      q.array_xy.push_back({double(gx + 1), double(gy + 1)});
    }
  return q;
}

}  // namespace hiscmcl
