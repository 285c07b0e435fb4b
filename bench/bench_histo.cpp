// histo encoder crops per second at its input size (128 px), 1 and 2 threads, on 64 real her2st
// C2 spot crops (1x spot diameter), or synthetic discs when the data is absent.
#include <benchmark/benchmark.h>

#include <fstream>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "common/thread_pool.h"
#include "data/patches.h"
#include "encoders/histo_encoder.h"
#include "encoders/histo_features.h"
#include "io/slide_image.h"

using namespace hiscmcl;

namespace {

std::vector<cv::Mat> load_crops() {
  const std::string dir = std::string(HISCMCL_SHARED_DATA) + "/her2st/data/";
  const std::string image = dir + "ST-imgs/C/C2/5714_HE_BT_C2.jpg";
  std::vector<cv::Mat> crops;
  std::ifstream spots(dir + "ST-spotfiles/C2_selection.tsv");
  if (std::ifstream(image) && spots) {
    auto img = SlideImage::open(image);
    std::string line;
    std::getline(spots, line);  // header: x y new_x new_y pixel_x pixel_y selected
    while (crops.size() < 64 && std::getline(spots, line)) {
      std::stringstream ss(line);
      double v[6];
      for (double& x : v) ss >> x;
      crops.push_back(crop_patch(*img, {v[4], v[5]}, 136, kHistoInputPx));
    }
    return crops;
  }
  cv::RNG rng(1);
  for (int i = 0; i < 64; ++i) {
    cv::Mat c(kHistoInputPx, kHistoInputPx, CV_8UC3, cv::Scalar(230, 170, 200));
    for (int k = 0; k < 30; ++k)
      cv::circle(c, {rng.uniform(0, 128), rng.uniform(0, 128)}, rng.uniform(3, 7),
                 cv::Scalar(70, 50, 130), cv::FILLED);
    crops.push_back(c);
  }
  return crops;
}

void BM_HistoEncoder(benchmark::State& state) {
  static const std::vector<cv::Mat> crops = load_crops();
  auto enc = make_histo_encoder({});
  set_num_threads(int(state.range(0)));
  for (auto _ : state) {
    Matrix m = enc->embed(crops);
    benchmark::DoNotOptimize(m.data.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(crops.size()));
  state.counters["dim"] = double(enc->dim());
}
BENCHMARK(BM_HistoEncoder)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
