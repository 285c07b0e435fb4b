// Frozen-feature training at reference scale (issue 12 item 3): one epoch of configs/default.toml
// (both ensemble members, then the retrieval keys) on N random spots with foundation-sized
// features, printed as spots/s and the process's peak RSS.
//   build/bench/bench_train_scale N [D=1536] [GENES=785] [SPOTS_PER_SECTION=4000]
// One N per process, so that the peak RSS is that N's. Random features and counts: a figure of
// cost, not of accuracy. Sections are square grids of Visium-like spots, so the neighbourhood and
// global tokens are real nearest-spot sets.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "common/log.h"
#include "config/run_config.h"
#include "data/normalize.h"
#include "train/trainer.h"

using namespace hiscmcl;

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s N [D=1536] [GENES=785] [SPOTS_PER_SECTION=4000]\n", argv[0]);
    return 2;
  }
  const int64_t n = std::atoll(argv[1]);
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 1536;
  const int64_t genes = argc > 3 ? std::atoll(argv[3]) : 785;
  const int64_t per_section = argc > 4 ? std::atoll(argv[4]) : 4000;
  set_verbosity(Verbosity::quiet);
  set_progress_bars(false);

  std::mt19937 rng(7);
  std::normal_distribution<float> z;
  std::poisson_distribution<int> counts(2.0);
  std::vector<PreparedSection> sections;
  std::vector<SectionFeatures> features;
  std::vector<std::string> panel;
  for (int64_t g = 0; g < genes; ++g) panel.push_back("G" + std::to_string(g));
  for (int64_t first = 0; first < n; first += per_section) {
    const int64_t m = std::min(per_section, n - first);
    const int64_t side = int64_t(std::ceil(std::sqrt(double(m))));
    PreparedSection s;
    s.id = "S" + std::to_string(sections.size());
    s.genes = panel;
    s.normalization = "per_spot";
    s.image.spot_diameter_px = 100;
    s.counts = Matrix(m, genes);
    for (float& v : s.counts.data) v = float(counts(rng));
    s.expression = normalize_per_spot(s.counts);
    SectionFeatures f;
    f.level_names = {"spot", "neighbourhood"};
    f.levels = {Matrix(m, d), Matrix(m, d)};
    for (auto& level : f.levels)
      for (float& v : level.data) v = z(rng);
    for (int64_t i = 0; i < m; ++i) {
      s.spot_ids.push_back(s.id + "_" + std::to_string(i));
      s.array_xy.push_back({double(i % side), double(i / side)});
      s.pixel_xy.push_back({double(i % side) * 200, double(i / side) * 200});
    }
    sections.push_back(std::move(s));
    features.push_back(std::move(f));
  }
  std::vector<const PreparedSection*> ptrs;
  for (const auto& s : sections) ptrs.push_back(&s);
  const double data_mb = peak_rss_mb();

  RunConfig cfg = default_run_config();
  cfg.train.epochs = 1;
  const auto t0 = std::chrono::steady_clock::now();
  TrainResult r = train_frozen(ptrs, features, cfg);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double member_spots = double(n) * double(cfg.train.ensemble);
  std::printf("N %lld  D %lld  genes %lld  sections %zu  ensemble %d: one epoch + keys %.1f s, %.0f spots/s "
              "(member-spots), data %.0f MB, peak RSS %.0f MB, loss %.4f\n",
              (long long)n, (long long)d, (long long)genes, sections.size(), cfg.train.ensemble, s,
              member_spots / s, data_mb, peak_rss_mb(), r.log.front().loss);
  return 0;
}
