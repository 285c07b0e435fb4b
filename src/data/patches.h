// Square crops around spot centres, at several fields of view at once, resized to an encoder's
// input size. Contract:
//  - side in source pixels = round(fov_spot_diameters * spot_diameter_px), or fixed_px when
//    fixed_px > 0 (`compat`: the reference's 224 px box, METHOD.md §4.2);
//  - the box starts at floor(c) - side/2 (integer division) on each axis, as the reference's
//    (cx-112, cy-112, cx+112, cy+112); pixels outside the image are black;
//  - resized to out_px x out_px: INTER_AREA when shrinking, INTER_LINEAR when enlarging, a plain
//    copy when side == out_px. Output is RGB uint8 (CV_8UC3). A whole-slide pyramid is read from
//    its coarsest level with at least out_px's resolution (SlideImage::read_region_resized);
//  - for_each_patch_batch delivers crops batch by batch (bounded memory), in spot order, from the
//    calling thread; crops within a batch are cut on the thread pool. Same bytes for any thread count.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "io/slide_image.h"

namespace hiscmcl {

struct CropScale {
  double fov_spot_diameters = 1.0;  // field of view in spot diameters
  int fixed_px = 0;                 // > 0: a fixed side in source pixels (compat mode)
};

struct PatchOptions {
  std::vector<CropScale> scales{CropScale{}};
  int out_px = 224;       // every crop is resized to out_px x out_px
  int batch_size = 64;    // spots per callback
  int threads = 0;        // 0: the global --threads setting
};

using Centre = std::array<double, 2>;  // (x, y) in image pixels

// Side of the source square in pixels (>= 1). Throws std::invalid_argument on a non-positive
// field of view or spot diameter.
int crop_side_px(const CropScale& scale, double spot_diameter_px);

// The source box for a centre: top-left floor(c) - side/2, size side x side.
cv::Rect crop_box(const Centre& centre, int side_px);

// One crop: the side_px box around centre, black outside the image, resized to out_px.
cv::Mat crop_patch(const SlideImage& image, const Centre& centre, int side_px, int out_px);

// crops_by_scale[s][i] is the crop of spot first + i at scale s. The callback runs on the caller's
// thread, once per batch, batches in order; the vectors are reused after it returns.
using PatchBatchFn =
    std::function<void(int64_t first, const std::vector<std::vector<cv::Mat>>& crops_by_scale)>;
void for_each_patch_batch(const SlideImage& image, const std::vector<Centre>& centres,
                          double spot_diameter_px, const PatchOptions& opt,
                          const PatchBatchFn& on_batch);

// Opens image_file, checks the centres (require_centres_inside) and appends every centre's crop
// at each scale to crops_by_scale[s] (resized to opt.scales.size() first), each crop owning its
// pixels: for crops held in memory for training (centres x scales x out_px^2 x 3 bytes).
void append_section_patches(const std::string& image_file, const std::vector<Centre>& centres,
                            double spot_diameter_px, const PatchOptions& opt,
                            std::vector<std::vector<cv::Mat>>& crops_by_scale);

// InputError naming image_file and the first spot whose centre is not finite or lies outside
// the image (a spot table that does not belong to this image).
void require_centres_inside(const SlideImage& image, const std::vector<Centre>& centres,
                            const std::string& image_file);

}  // namespace hiscmcl
