// Top-k retrieval at reference scale: N keys x 256-d (N = 10^5, 10^6), 1,000 queries, k = 200.
//   BM_Exact        faiss flat inner product (the default predict.index = "flat")
//   BM_Ivf          faiss IVF, nlist = ivf_default_nlist(N), nprobe as the second argument;
//                   counter recall = |approximate top 200 ∩ exact top 200| / 200, over the queries
//   BM_ScalarLoop   the scalar double loop retrieval used before faiss (100 queries, N = 10^5)
// Keys and queries are drawn around 2,000 random centres (spot embeddings cluster by tissue region:
// the structure an inverted file uses); the _Uniform variants draw them without any structure,
// the worst case for IVF. Build times are counters (build_s), not part of the timed loop.
//   build/bench/bench_retrieval --benchmark_filter=...
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>

#include "common/blas_kernel.h"
#include "predict/key_index.h"

using namespace hiscmcl;

namespace {

constexpr int64_t kDim = 256, kQueries = 1000, kTopK = 200;

Matrix draw(int64_t n, bool clustered, uint32_t seed) {
  std::mt19937 centre_rng(12345);  // the same centres for keys and queries
  std::normal_distribution<float> z;
  Matrix centres(2000, kDim);
  for (float& v : centres.data) v = z(centre_rng);
  std::mt19937 rng(seed);
  Matrix m(n, kDim);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = int64_t(rng() % 2000u);
    for (int64_t j = 0; j < kDim; ++j) m(i, j) = clustered ? centres(c, j) + 0.5f * z(rng) : z(rng);
  }
  return l2_normalised_rows(m);
}

struct Reference {
  Matrix keys, queries;
  std::unique_ptr<KeyIndex> flat;
  KeyNeighbours exact;
  std::map<int, std::unique_ptr<KeyIndex>> ivf;  // by nprobe: the one index, saved and loaded
  double ivf_build_s = 0;
  std::string ivf_file;
};

Reference& reference(int64_t n, bool clustered) {
  static std::map<std::pair<int64_t, bool>, std::unique_ptr<Reference>> cache;
  auto& r = cache[{n, clustered}];
  if (!r) {
    r = std::make_unique<Reference>();
    r->keys = draw(n, clustered, 1);
    r->queries = draw(kQueries, clustered, 2);
    r->flat = make_flat_key_index(r->keys);
    r->exact = r->flat->search(r->queries, kTopK);
  }
  return *r;
}

double recall(const KeyNeighbours& got, const KeyNeighbours& exact) {
  size_t hit = 0;
  for (int64_t q = 0; q < kQueries; ++q) {
    std::set<int64_t> want(exact.ids.begin() + q * kTopK, exact.ids.begin() + (q + 1) * kTopK);
    for (int64_t j = 0; j < got.k; ++j) hit += want.count(got.ids[size_t(q * got.k + j)]);
  }
  return double(hit) / double(kQueries * kTopK);
}

void exact(benchmark::State& state, bool clustered) {
  Reference& r = reference(state.range(0), clustered);
  for (auto _ : state) benchmark::DoNotOptimize(r.flat->search(r.queries, kTopK).ids.data());
  state.counters["queries_per_s"] = benchmark::Counter(double(kQueries), benchmark::Counter::kIsIterationInvariantRate);
}

void ivf(benchmark::State& state, bool clustered) {
  Reference& r = reference(state.range(0), clustered);
  const int nprobe = int(state.range(1));
  if (r.ivf_file.empty()) {  // built once per reference, as at `train`
    const auto t0 = std::chrono::steady_clock::now();
    auto built = make_ivf_key_index(r.keys, 0, 1, 1);
    r.ivf_build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.ivf_file = "/tmp/bench_retrieval_" + std::to_string(state.range(0)) + (clustered ? "c" : "u") + ".ivf";
    built->save(r.ivf_file);
  }
  if (!r.ivf.count(nprobe)) r.ivf[nprobe] = load_key_index(r.ivf_file, nprobe);
  const KeyIndex& index = *r.ivf[nprobe];
  KeyNeighbours got;
  for (auto _ : state) {
    got = index.search(r.queries, kTopK);
    benchmark::DoNotOptimize(got.ids.data());
  }
  state.counters["recall"] = recall(got, r.exact);
  state.counters["nlist"] = key_index_nlist(index);
  state.counters["build_s"] = r.ivf_build_s;
}

void BM_Exact(benchmark::State& s) { exact(s, true); }
void BM_Ivf(benchmark::State& s) { ivf(s, true); }
void BM_Exact_Uniform(benchmark::State& s) { exact(s, false); }
void BM_Ivf_Uniform(benchmark::State& s) { ivf(s, false); }

// What retrieval did before faiss: a scalar dot product per key, then partial_sort (one thread).
void BM_ScalarLoop(benchmark::State& state) {
  Reference& r = reference(state.range(0), true);
  const int64_t nq = 100, nk = r.keys.rows;
  for (auto _ : state) {
    for (int64_t q = 0; q < nq; ++q) {
      std::vector<float> sim(static_cast<size_t>(nk));
      const float* qr = r.queries.row(q);
      for (int64_t j = 0; j < nk; ++j) {
        const float* kr = r.keys.row(j);
        float s = 0;
        for (int64_t c = 0; c < kDim; ++c) s += qr[c] * kr[c];
        sim[size_t(j)] = s;
      }
      std::vector<int64_t> idx(static_cast<size_t>(nk));
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + kTopK, idx.end(),
                        [&](int64_t a, int64_t b) { return sim[size_t(a)] > sim[size_t(b)]; });
      benchmark::DoNotOptimize(idx.data());
    }
  }
  state.counters["queries_per_s"] = benchmark::Counter(double(nq), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Exact)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Ivf)->Args({100000, 8})->Args({100000, 32})->Args({1000000, 8})->Args({1000000, 32})
    ->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_Exact_Uniform)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Ivf_Uniform)->Args({1000000, 32})->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_ScalarLoop)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(1);

// As the hiscmcl binary does: Debian's OpenBLAS falls back to generic kernels on this CPU, 3.9x
// slower here for the exact search (docs/BENCHMARKS.md).
int main(int argc, char** argv) {
  restart_with_better_blas_kernels(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
