// The CUDA paths, run where LibTorch sees a GPU (scripts/gpu_check.sh builds against a CUDA
// LibTorch and runs these); elsewhere each test skips with a message. They compare the GPU with
// the CPU on the same inputs, so a wrong device transfer or kernel shows as a difference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include "encoders/encoder.h"
#include "io/slide_image.h"
#include "predict/retrieval_predictor.h"
#include "small_model.h"
#include "test_util.h"
#include "tiny_store.h"
#include "train/end_to_end.h"

using namespace hiscmcl;
using hiscmcl::test::TempDir;

namespace {

#define SKIP_WITHOUT_CUDA()   \
  if (!torch::cuda::is_available()) \
  GTEST_SKIP() << "LibTorch sees no CUDA device: run scripts/gpu_check.sh on a machine with a GPU"

cv::Mat stripes(int seed, int side) {
  cv::Mat m(side, side, CV_8UC3);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar((x * 3 + seed * 40) % 256), uchar((y * 5 + seed * 17) % 256),
                                        uchar(((x + y) * 2 + seed) % 256));
  return m;
}

float relative_difference(const Matrix& a, const Matrix& b) {
  float diff = 0, scale = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    diff = std::max(diff, std::abs(a.data[i] - b.data[i]));
    scale = std::max(scale, std::abs(b.data[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace

// embed --device cuda: the same seeded trunk gives the CPU's features (TF32 off by default in 1.13
// convolutions is not guaranteed, so the bound is loose: 1e-3 of the largest value).
TEST(Cuda, EncoderFeaturesMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  std::vector<cv::Mat> crops{stripes(0, 224), stripes(1, 224), stripes(2, 224)};
  EncoderOptions opt;
  opt.seed = 3;
  const Matrix cpu = make_encoder("resnet18", opt)->embed(crops);
  opt.device = "cuda";
  const Matrix gpu = make_encoder("resnet18", opt)->embed(crops);
  ASSERT_EQ(gpu.rows, 3);
  ASSERT_EQ(gpu.cols, 512);
  EXPECT_LT(relative_difference(gpu, cpu), 1e-3f);
}

// End-to-end training on the GPU: one epoch trains, its first loss is the CPU's (same seed, same
// batches, no augmentation), and the bundle it leaves predicts on the CPU-side retrieval.
TEST(Cuda, EndToEndTrainingMatchesTheCpuAndPredicts) {
  SKIP_WITHOUT_CUDA();
  TempDir dir;
  auto sections = test::tiny_store(dir);
  std::vector<const PreparedSection*> train = {&sections[0]};
  RunConfig c = test::small_model_config("hierarchical", "batch");
  c.encoder.name = "resnet18";
  c.train.mode = TrainMode::end_to_end;
  c.train.epochs = 1;
  c.train.batch_size = 16;
  c.train.accumulation = 1;
  c.train.augment = false;
  c.predict.k = 5;
  TrainResult on_cpu = train_end_to_end(train, c);
  c.encoder.device = "cuda";
  TrainResult on_gpu = train_end_to_end(train, c);
  ASSERT_EQ(on_gpu.log.size(), 1u);
  EXPECT_NEAR(on_gpu.log[0].loss, on_cpu.log[0].loss, 1e-2 * std::abs(on_cpu.log[0].loss));
  const PreparedSection& test = sections[1];
  auto image = SlideImage::open(test.image.image_path);
  auto enc = bundle_encoder(on_gpu.bundle);
  SectionFeatures f = embed_spots(*image, test.image.image_path, test.pixel_xy, test.image.spot_diameter_px,
                                  on_gpu.bundle.config.encoder, *enc);
  Matrix y = RetrievalPredictor(on_gpu.bundle, on_gpu.bundle.config.predict).predict(test.pixel_xy, f).mean;
  ASSERT_EQ(y.rows, test.n_spots());
  for (float v : y.data) ASSERT_TRUE(std::isfinite(v));
}
