#include "data/spatial_neighbours.h"

#include <algorithm>
#include <numeric>

#include "common/thread_pool.h"

namespace hiscmcl {

std::vector<int64_t> nearest_spots(const std::vector<std::array<double, 2>>& xy, int k) {
  const int64_t n = int64_t(xy.size());
  std::vector<int64_t> out(size_t(n * k));
  if (n == 0) return out;
  // O(n²) per section: sections hold hundreds to a few thousand spots.
  parallel_for(n, [&](int64_t i) {
    std::vector<std::pair<double, int64_t>> d(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      double dx = xy[j][0] - xy[i][0], dy = xy[j][1] - xy[i][1];
      d[size_t(j)] = {j == i ? -1.0 : dx * dx + dy * dy, j};
    }
    int64_t m = std::min<int64_t>(k, n);
    std::partial_sort(d.begin(), d.begin() + m, d.end());
    for (int64_t t = 0; t < k; ++t) out[size_t(i * k + t)] = d[size_t(std::min(t, m - 1))].second;
  });
  return out;
}

}  // namespace hiscmcl
