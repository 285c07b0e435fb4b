// Crops per second through each built-in CNN trunk on CPU: 224 px, batch 16, 2 threads, in each
// activation layout (default NCHW, channels-last, oneDNN/mkldnn). Counter "crops/s".
//   bench_encoders --benchmark_min_time=2
// Figures in docs/BENCHMARKS.md ("CNN encoders").
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "encoders/cnn.h"

using namespace hiscmcl;

static void BM_Trunk(benchmark::State& state, const std::string& name, CpuLayout layout) {
  torch::set_num_threads(2);
  torch::manual_seed(0);
  const int64_t batch = 16, size = 224;
  CnnTrunk trunk = make_cnn_trunk(name);
  prepare_trunk_for_inference(trunk, layout);
  torch::Tensor x = torch::rand({batch, 3, size, size});
  trunk_inference(trunk, x, layout);  // warm-up: oneDNN primitive creation
  for (auto _ : state) benchmark::DoNotOptimize(trunk_inference(trunk, x, layout));
  state.counters["crops/s"] =
      benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

#define HISCMCL_BENCH_TRUNK(arch)                                                              \
  BENCHMARK_CAPTURE(BM_Trunk, arch##_default, #arch, CpuLayout::contiguous)                    \
      ->Unit(benchmark::kMillisecond)->UseRealTime();                                          \
  BENCHMARK_CAPTURE(BM_Trunk, arch##_channels_last, #arch, CpuLayout::channels_last)           \
      ->Unit(benchmark::kMillisecond)->UseRealTime();                                          \
  BENCHMARK_CAPTURE(BM_Trunk, arch##_onednn, #arch, CpuLayout::mkldnn)                         \
      ->Unit(benchmark::kMillisecond)->UseRealTime();

HISCMCL_BENCH_TRUNK(resnet18)
HISCMCL_BENCH_TRUNK(resnet50)
HISCMCL_BENCH_TRUNK(densenet121)

BENCHMARK_MAIN();
