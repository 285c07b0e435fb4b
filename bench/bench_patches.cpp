// Crops per second on her2st C2 (187 spots, spot diameter ~136 px): three scales at once
// (1x, 3x, 6x spot diameter -> 224 px), 1 and 2 threads; JPEG decode timed separately.
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "data/patches.h"
#include "io/slide_image.h"

using namespace hiscmcl;

namespace {

const std::string kDir = std::string(HISCMCL_SHARED_DATA) + "/her2st/data/";
const std::string kImage = kDir + "ST-imgs/C/C2/5714_HE_BT_C2.jpg";
const std::string kSpots = kDir + "ST-spotfiles/C2_selection.tsv";
constexpr double kSpotDiameterPx = 136.0;

// pixel_x / pixel_y columns of the legacy ST spot table (tab-separated, header row).
std::vector<Centre> read_centres(const std::string& path) {
  std::ifstream f(path);
  std::string line, tok;
  std::vector<Centre> out;
  if (!std::getline(f, line)) return out;
  std::vector<std::string> header;
  for (std::stringstream ss(line); std::getline(ss, tok, '\t');) header.push_back(tok);
  size_t ix = 0, iy = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "pixel_x") ix = i;
    if (header[i] == "pixel_y") iy = i;
  }
  while (std::getline(f, line)) {
    std::vector<std::string> t;
    for (std::stringstream ss(line); std::getline(ss, tok, '\t');) t.push_back(tok);
    if (t.size() > std::max(ix, iy)) out.push_back({std::stod(t[ix]), std::stod(t[iy])});
  }
  return out;
}

const SlideImage* c2_image() {
  static std::unique_ptr<SlideImage> img = [] {
    std::ifstream probe(kImage);
    return probe ? SlideImage::open(kImage) : nullptr;
  }();
  return img.get();
}

void BM_DecodeC2(benchmark::State& state) {
  if (!std::ifstream(kImage)) return state.SkipWithError("her2st C2 image absent");
  for (auto _ : state) {
    auto img = SlideImage::open(kImage);
    benchmark::DoNotOptimize(img->width());
  }
}
BENCHMARK(BM_DecodeC2)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_CropsC2ThreeScales(benchmark::State& state) {
  const SlideImage* img = c2_image();
  if (!img) return state.SkipWithError("her2st C2 image absent");
  auto centres = read_centres(kSpots);
  PatchOptions opt;
  opt.scales = {{1.0, 0}, {3.0, 0}, {6.0, 0}};
  opt.out_px = 224;
  opt.batch_size = 64;
  opt.threads = int(state.range(0));
  for (auto _ : state) {
    for_each_patch_batch(*img, centres, kSpotDiameterPx, opt,
                         [](int64_t, const std::vector<std::vector<cv::Mat>>& c) {
                           benchmark::DoNotOptimize(c.data());
                         });
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(centres.size()) * 3);
  state.counters["spots"] = double(centres.size());
}
BENCHMARK(BM_CropsC2ThreeScales)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
