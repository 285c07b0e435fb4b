#include "data/patches.h"

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "common/error.h"
#include "common/thread_pool.h"

namespace hiscmcl {

int crop_side_px(const CropScale& scale, double spot_diameter_px) {
  if (scale.fixed_px > 0) return scale.fixed_px;
  if (!(scale.fov_spot_diameters > 0) || !std::isfinite(scale.fov_spot_diameters))
    throw std::invalid_argument("crop scale: field of view must be > 0 spot diameters");
  if (!(spot_diameter_px > 0) || !std::isfinite(spot_diameter_px))
    throw std::invalid_argument("crop scale: spot diameter must be > 0 pixels");
  double side = std::round(scale.fov_spot_diameters * spot_diameter_px);
  if (side > 1 << 16) throw std::invalid_argument("crop scale: crop side over 65536 px");
  return std::max(1, int(side));
}

cv::Rect crop_box(const Centre& centre, int side_px) {
  // floor, not round: the reference crops at integer-truncated centres (non-negative coordinates).
  int cx = int(std::floor(centre[0]));
  int cy = int(std::floor(centre[1]));
  return cv::Rect(cx - side_px / 2, cy - side_px / 2, side_px, side_px);
}

cv::Mat crop_patch(const SlideImage& image, const Centre& centre, int side_px, int out_px) {
  return image.read_region_resized(crop_box(centre, side_px), cv::Size(out_px, out_px));
}

void for_each_patch_batch(const SlideImage& image, const std::vector<Centre>& centres,
                          double spot_diameter_px, const PatchOptions& opt,
                          const PatchBatchFn& on_batch) {
  if (opt.scales.empty()) throw std::invalid_argument("patches: no crop scale given");
  if (opt.out_px <= 0) throw std::invalid_argument("patches: out_px must be > 0");
  if (opt.batch_size <= 0) throw std::invalid_argument("patches: batch_size must be > 0");
  for (const auto& c : centres)
    if (!std::isfinite(c[0]) || !std::isfinite(c[1]))
      throw std::invalid_argument("patches: spot centre is not finite");
  std::vector<int> sides;
  for (const auto& s : opt.scales) sides.push_back(crop_side_px(s, spot_diameter_px));

  const int64_t n = int64_t(centres.size());
  const int64_t n_scales = int64_t(sides.size());
  std::vector<std::vector<cv::Mat>> crops{size_t(n_scales)};
  for (int64_t first = 0; first < n; first += opt.batch_size) {
    int64_t count = std::min<int64_t>(opt.batch_size, n - first);
    for (auto& v : crops) v.assign(size_t(count), cv::Mat());
    // One work item per (spot, scale): large scales dominate, so finer items balance better.
    parallel_for(
        count * n_scales,
        [&](int64_t k) {
          int64_t i = k / n_scales, s = k % n_scales;
          crops[size_t(s)][size_t(i)] =
              crop_patch(image, centres[size_t(first + i)], sides[size_t(s)], opt.out_px);
        },
        opt.threads);
    on_batch(first, crops);
  }
}

void require_centres_inside(const SlideImage& image, const std::vector<Centre>& centres,
                            const std::string& image_file) {
  for (size_t i = 0; i < centres.size(); ++i) {
    double x = centres[i][0], y = centres[i][1];
    if (!std::isfinite(x) || !std::isfinite(y) || x < 0 || y < 0 || x >= image.width() ||
        y >= image.height())
      throw InputError(image_file,
                       "spot " + std::to_string(i) + " centre (" + std::to_string(x) + ", " +
                           std::to_string(y) + ") lies outside the " +
                           std::to_string(image.width()) + "x" + std::to_string(image.height()) +
                           " image");
  }
}

void append_section_patches(const std::string& image_file, const std::vector<Centre>& centres,
                            double spot_diameter_px, const PatchOptions& opt,
                            std::vector<std::vector<cv::Mat>>& crops_by_scale) {
  crops_by_scale.resize(opt.scales.size());
  auto image = SlideImage::open(image_file);
  require_centres_inside(*image, centres, image_file);
  for_each_patch_batch(*image, centres, spot_diameter_px, opt,
                       [&](int64_t, const std::vector<std::vector<cv::Mat>>& batch) {
                         for (size_t l = 0; l < batch.size(); ++l)
                           for (auto& c : batch[l]) crops_by_scale[l].push_back(c.clone());
                       });
}

}  // namespace hiscmcl
