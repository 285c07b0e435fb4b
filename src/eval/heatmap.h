// Spot heatmaps over the H&E (METHOD.md §8.12: PNG heatmaps, predicted beside
// measured). Each spot is a filled circle coloured by viridis (cv::COLORMAP_VIRIDIS) over a
// lightened H&E thumbnail cropped to the spots' bounding box, with a colour bar and a title.
//   he_rgb_thumbnail: 8-bit RGB (or grey) image; downsample: full-resolution px per thumbnail px;
//   spot_px: spot centres in full-resolution pixels; spot_diameter_px: in full-resolution pixels.
//   The colour scale spans the finite values' [min, max] over all panels, or per panel their 2nd
//   to 98th percentile, each then with its own colour bar; NaN values are drawn as hollow grey
//   circles.
// The PNG is written atomically (temp name, then rename); a failure throws InputError(path, ...).
#pragma once
#include <array>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "io/slide_image.h"

namespace hiscmcl {

struct HeatmapPanel {
  std::string label;          // drawn above the panel ("predicted", "measured"); may be empty
  std::vector<float> values;  // one per spot
};

enum class HeatmapScale { shared, per_panel };

// Renders one or more panels side by side; returns a BGR image.
cv::Mat render_heatmap(const cv::Mat& he_rgb_thumbnail, double downsample,
                       const std::vector<cv::Point2d>& spot_px,
                       const std::vector<HeatmapPanel>& panels, double spot_diameter_px,
                       const std::string& title, HeatmapScale colour_scale = HeatmapScale::shared);

void write_heatmap_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail,
                       double downsample, const std::vector<cv::Point2d>& spot_px,
                       const std::vector<float>& values, double spot_diameter_px,
                       const std::string& title);

// "predicted | measured", each on its own colour scale (and says so above the panels): retrieval
// over k neighbours compresses a prediction toward the mean, so on the measured scale a map that
// follows the pattern (r = 0.7) looks uniform. The values in the files are unchanged.
void write_heatmap_pair_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail,
                            double downsample, const std::vector<cv::Point2d>& spot_px,
                            const std::vector<float>& predicted, const std::vector<float>& measured,
                            double spot_diameter_px, const std::string& title);

// Region maps: each spot filled with its region's colour (tab10, then tab20's light tones), one
// panel per partition side by side (e.g. regions of the prediction | of the measured expression),
// and a legend naming each region. A region < 0 is drawn as a hollow grey circle (no region).
struct RegionPanel {
  std::string label;
  std::vector<int> regions;  // one per spot, indexing region_names
};
cv::Mat render_region_map(const cv::Mat& he_rgb_thumbnail, double downsample, const std::vector<cv::Point2d>& spot_px,
                          const std::vector<RegionPanel>& panels, double spot_diameter_px, const std::string& title,
                          const std::vector<std::string>& region_names);
void write_region_map_png(const std::filesystem::path& path, const cv::Mat& he_rgb_thumbnail, double downsample,
                          const std::vector<cv::Point2d>& spot_px, const std::vector<RegionPanel>& panels,
                          double spot_diameter_px, const std::string& title,
                          const std::vector<std::string>& region_names);
cv::Vec3b region_bgr(int region);  // the colour of region r (BGR)

// A lightweight background for heatmaps: the slide's thumbnail (longest side about max_side px)
// and the full-resolution pixels per thumbnail pixel.
struct HeatmapBackground {
  cv::Mat rgb;
  double downsample = 1;
};
HeatmapBackground heatmap_background(const SlideImage& image, int max_side = 900);
std::vector<cv::Point2d> to_points(const std::vector<std::array<double, 2>>& xy);

// The viridis colour (BGR) of t in [0, 1] (clamped).
cv::Vec3b viridis_bgr(double t);
// Encodes an image as PNG and writes it atomically.
void write_png_atomic(const std::filesystem::path& path, const cv::Mat& bgr);

}  // namespace hiscmcl
