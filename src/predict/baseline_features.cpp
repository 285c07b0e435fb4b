#include "predict/baseline_features.h"

#include <algorithm>
#include <stdexcept>

#include "data/spatial_neighbours.h"

namespace hiscmcl {
namespace {

// out[:, offset .. offset + d) += mean over each row's k nearest spots of spot[nb, :]
void add_neighbour_mean(const std::vector<std::array<double, 2>>& pixel_xy, const Matrix& spot, int k,
                        int64_t offset, Matrix& out) {
  const int64_t n = spot.rows, d = spot.cols;
  const auto nb = nearest_spots(pixel_xy, k);
  const int kk = int(std::min<int64_t>(k, n));
  for (int64_t i = 0; i < n; ++i) {
    float* row = out.row(i) + offset;
    for (int j = 0; j < kk; ++j) {
      const float* src = spot.row(nb[size_t(i * k + j)]);  // rows of k; repeats past n
      for (int64_t c = 0; c < d; ++c) row[c] += src[c] / float(kk);
    }
  }
}

}  // namespace

Matrix baseline_features(const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features,
                         BaselineInputs inputs, ContextSizes context) {
  if (context.n_neighbours < 1 || context.n_global < 1)
    throw std::invalid_argument("baseline_features: context sizes must be >= 1");
  const Matrix spot = features.level("spot").to_matrix();
  const FeatureMatrix& neigh = features.level("neighbourhood");
  const int64_t n = spot.rows, d = spot.cols;
  const bool with_context = inputs == BaselineInputs::crops_and_context;
  Matrix x(n, (with_context ? 4 : 2) * d);
  for (int64_t i = 0; i < n; ++i) {
    float* row = x.row(i);
    std::copy_n(spot.row(i), d, row);
    neigh.read_row(i, row + d);
  }
  if (with_context) {
    add_neighbour_mean(pixel_xy, spot, context.n_neighbours, 2 * d, x);
    add_neighbour_mean(pixel_xy, spot, context.n_global, 3 * d, x);
  }
  return x;
}

}  // namespace hiscmcl
