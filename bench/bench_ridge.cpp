// The ridge baselines' fit at the design widths the encoders give (issue 12 item 3): F design
// columns (4 x the feature width: spot, neighbourhood and two context means), 3,000 spots in 4
// sections, 785 genes, alpha by leave-one-section-out over the 13 half-decade alphas, then the
// refit: what `train` and every cv fold do once.
//   F = 600 (histo), 3,072 (ViT-B/16, 768-d), 4,096 (ViT-L/16, UNI's 1,024-d), 6,144 (1,536-d)
//   build/bench/bench_ridge --benchmark_filter=...
#include <benchmark/benchmark.h>

#include <random>

#include "predict/ridge.h"

using namespace hiscmcl;

namespace {

void BM_FitRidgeCv(benchmark::State& state) {
  const int64_t f = state.range(0), n = 3000, g = 785;
  std::mt19937 rng(1);
  std::normal_distribution<float> z;
  Matrix x(n, f), y(n, g);
  for (float& v : x.data) v = z(rng);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < g; ++t) y(i, t) = x(i, t % f) + z(rng);
  std::vector<int> groups(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) groups[size_t(i)] = int(i * 4 / n);
  const std::vector<double> alphas = {1, 3, 10, 30, 100, 300, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6};
  for (auto _ : state) benchmark::DoNotOptimize(fit_ridge_cv(x, y, groups, alphas).best_alpha);
}
BENCHMARK(BM_FitRidgeCv)->Arg(600)->Arg(3072)->Arg(4096)->Arg(6144)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
