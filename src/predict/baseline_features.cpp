#include "predict/baseline_features.h"

#include "data/spatial_neighbours.h"

namespace hiscmcl {

Matrix baseline_features(const std::vector<std::array<double, 2>>& pixel_xy,
                         const SectionFeatures& features) {
  const Matrix& spot = features.level("spot");
  const Matrix& neigh = features.level("neighbourhood");
  const int64_t n = spot.rows, d = spot.cols;
  auto nb9 = nearest_spots(pixel_xy, 9), nb49 = nearest_spots(pixel_xy, 49);
  Matrix x(n, 4 * d);
  for (int64_t i = 0; i < n; ++i) {
    float* row = x.row(i);
    for (int64_t c = 0; c < d; ++c) {
      row[c] = spot(i, c);
      row[d + c] = neigh(i, c);
    }
    for (int k = 0; k < 9; ++k)
      for (int64_t c = 0; c < d; ++c) row[2 * d + c] += spot(nb9[size_t(i * 9 + k)], c) / 9.f;
    for (int k = 0; k < 49; ++k)
      for (int64_t c = 0; c < d; ++c) row[3 * d + c] += spot(nb49[size_t(i * 49 + k)], c) / 49.f;
  }
  return x;
}

}  // namespace hiscmcl
