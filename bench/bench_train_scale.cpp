// Frozen-feature training at reference scale (issue 12 item 3): one epoch of configs/default.toml
// (both ensemble members, then the retrieval keys) on N random spots with foundation-sized
// features, printed as spots/s and the process's peak memory.
//   build/bench/bench_train_scale N [D=1536] [GENES=785] [SPOTS_PER_SECTION=4000]
//       [--dtype float32|float16] [--cache DIR] [--max-memory-gb X] [--ensemble E]
// --dtype: encoder.feature_dtype. --cache DIR: the features are written to DIR as the feature
// cache stores them and memory-mapped back, as `train` reads them (else held in memory).
// --max-memory-gb: train.max_memory_gb (image tables past it are streamed from the features).
// --ensemble: train.ensemble (default 2; spots/s counts member-spots either way).
// One N per process, so that the peak is that N's. Random features and counts: a figure of cost,
// not of accuracy. Sections are square grids of Visium-like spots, so the neighbourhood and
// global tokens are real nearest-spot sets.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/log.h"
#include "config/run_config.h"
#include "data/normalize.h"
#include "io/npy.h"
#include "train/trainer.h"

using namespace hiscmcl;

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// A line of /proc/self/status in MB (VmHWM, RssAnon, RssFile).
double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key) + 1) / 1024.0;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  FeatureDtype dtype = FeatureDtype::float32;
  std::filesystem::path cache;
  double max_memory_gb = 0;
  int ensemble = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dtype" && i + 1 < argc) {
      if (!parse_choice(argv[++i], dtype)) return std::fprintf(stderr, "--dtype float32|float16\n"), 2;
    } else if (a == "--cache" && i + 1 < argc) {
      cache = argv[++i];
    } else if (a == "--ensemble" && i + 1 < argc) {
      ensemble = std::atoi(argv[++i]);
    } else if (a == "--max-memory-gb" && i + 1 < argc) {
      max_memory_gb = std::atof(argv[++i]);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) {
    std::fprintf(stderr, "usage: %s N [D=1536] [GENES=785] [SPOTS_PER_SECTION=4000] [--dtype float32|float16] "
                 "[--cache DIR] [--max-memory-gb X] [--ensemble E]\n", argv[0]);
    return 2;
  }
  const int64_t n = std::atoll(pos[0].c_str());
  const int64_t d = pos.size() > 1 ? std::atoll(pos[1].c_str()) : 1536;
  const int64_t genes = pos.size() > 2 ? std::atoll(pos[2].c_str()) : 785;
  const int64_t per_section = pos.size() > 3 ? std::atoll(pos[3].c_str()) : 4000;
  set_verbosity(Verbosity::quiet);
  set_progress_bars(false);
  if (!cache.empty()) std::filesystem::create_directories(cache);

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
    Matrix raw(m, genes);
    for (float& v : raw.data) v = float(counts(rng));
    s.expression = normalize_per_spot(raw);  // training needs no raw counts at eval_norm = per_spot
    SectionFeatures f;
    f.level_names = {"spot", "neighbourhood"};
    for (const auto& name : f.level_names) {
      Matrix level(m, d);
      for (float& v : level.data) v = z(rng);
      if (!cache.empty()) {
        const auto file = cache / (s.id + "." + name + ".npy");
        write_npy_features(file, level, dtype);
        f.levels.push_back(map_npy_features(file));
      } else {
        f.levels.push_back(dtype == FeatureDtype::float16 ? FeatureMatrix::half_of(level) : FeatureMatrix(std::move(level)));
      }
    }
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
  cfg.encoder.feature_dtype = dtype;
  cfg.train.max_memory_gb = max_memory_gb;
  if (ensemble > 0) cfg.train.ensemble = ensemble;
  const bool streamed = streams_image_features(features, cfg);
  const auto t0 = std::chrono::steady_clock::now();
  TrainResult r = train_frozen(ptrs, features, cfg);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double member_spots = double(n) * double(cfg.train.ensemble);
  std::printf("N %lld  D %lld  genes %lld  sections %zu  ensemble %d  %s %s%s: one epoch + keys %.1f s, "
              "%.0f spots/s (member-spots), data %.0f MB, peak RSS %.0f MB (now anonymous %.0f MB, file-backed "
              "%.0f MB), loss %.4f\n",
              (long long)n, (long long)d, (long long)genes, sections.size(), cfg.train.ensemble,
              choice_name(dtype).c_str(), cache.empty() ? "in memory" : "mapped cache",
              streamed ? ", streamed" : ", resident", s, member_spots / s, data_mb, peak_rss_mb(),
              status_mb("RssAnon:"), status_mb("RssFile:"), r.log.front().loss);
  return 0;
}
