#include "io/spot_spacing.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hiscmcl {

double median_nearest_spot_distance(const std::vector<std::array<double, 2>>& xy) {
  const size_t n = xy.size();
  if (n < 2) return 0;
  // Sweep along the wider axis: a spot's nearest neighbour lies within its current best distance
  // along that axis, so each scan stops after a column or two of an array.
  double lo[2] = {xy[0][0], xy[0][1]}, hi[2] = {xy[0][0], xy[0][1]};
  for (const auto& p : xy)
    for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
  const int axis = hi[0] - lo[0] >= hi[1] - lo[1] ? 0 : 1;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return xy[a][axis] < xy[b][axis]; });
  std::vector<double> nn;
  nn.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const auto& p = xy[order[k]];
    double best2 = std::numeric_limits<double>::infinity();
    auto visit = [&](size_t j) {
      const auto& q = xy[order[j]];
      const double along = q[axis] - p[axis];
      if (along * along >= best2) return false;
      const double dx = q[0] - p[0], dy = q[1] - p[1], d2 = dx * dx + dy * dy;
      if (d2 > 0 && d2 < best2) best2 = d2;
      return true;
    };
    for (size_t j = k + 1; j < n && visit(j); ++j) {
    }
    for (size_t j = k; j-- > 0 && visit(j);) {
    }
    if (std::isfinite(best2)) nn.push_back(std::sqrt(best2));
  }
  if (nn.empty()) return 0;
  std::nth_element(nn.begin(), nn.begin() + nn.size() / 2, nn.end());
  return nn[nn.size() / 2];
}

double spacing_per_diameter(SpotArray array) { return array == SpotArray::st ? 2.0 : 1.8; }

SpotDiameterCheck check_spot_diameter(double stated, double spacing, SpotArray array) {
  SpotDiameterCheck c;
  c.spacing = spacing;
  c.diameter = stated;
  if (!(spacing > 0) || !std::isfinite(spacing)) return c;
  if (stated > 2 * spacing || stated < spacing / 4) {
    c.diameter = spacing / spacing_per_diameter(array);
    c.replaced = true;
  }
  return c;
}

double settle_spot_diameter(const std::string& section, const std::string& source, double stated_px,
                            const std::vector<std::array<double, 2>>& xy, SpotArray array) {
  if (xy.size() < 3) return stated_px;
  const SpotDiameterCheck c = check_spot_diameter(stated_px, median_nearest_spot_distance(xy), array);
  if (c.replaced)
    spdlog::warn(
        "{}: the spot diameter stated in {} ({:.4g} px) does not fit the spots' spacing ({:.4g} px "
        "centre to centre, median nearest neighbour; spots sit 1-2 diameters apart): using {:.4g} px "
        "(spacing / {:.1f}) for the crops",
        section, source, stated_px, c.spacing, c.diameter, spacing_per_diameter(array));
  return c.diameter;
}

}  // namespace hiscmcl
