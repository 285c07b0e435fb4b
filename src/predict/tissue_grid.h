// Spots for a slide without any ST: find the tissue and lay a spot grid over it.
// Tissue = Otsu threshold on the HSV saturation of a thumbnail (H&E is coloured, glass and
// background are not), cleaned by a morphological close/open; a spot is kept when the tissue
// covers at least half of its disc. The grid is square with the given pitch (ST: 2 spot diameters).
#pragma once
#include <opencv2/core.hpp>

#include "io/slide_image.h"
#include "io/spot_list.h"

namespace hiscmcl {

// Binary mask (CV_8U, 255 = tissue) of an RGB thumbnail.
cv::Mat tissue_mask(const cv::Mat& rgb_thumbnail);

// Spot centres in full-resolution pixels; ids "XxY" of grid column/row (1-based).
QuerySpots tissue_grid(const SlideImage& image, double spot_diameter_px, double pitch_px);

}  // namespace hiscmcl
