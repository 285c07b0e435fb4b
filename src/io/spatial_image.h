// The low-resolution slide picture that scanpy/squidpy draw spots over (AnnData's
// uns["spatial"][<id>]["images"]["hires"]), read from a low pyramid level: a whole slide is never
// decoded at full resolution.
#pragma once
#include "io/section.h"
#include "io/slide_image.h"

namespace hiscmcl {

// The whole image scaled so that its long side is at most max_side pixels (never enlarged), with
// hires_scalef = its width / the slide's width.
SpatialImage spatial_image_of(const SlideImage& slide, int max_side = 2000);

}  // namespace hiscmcl
