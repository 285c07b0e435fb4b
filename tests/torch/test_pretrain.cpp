// Self-supervised pretraining (train/pretrain.h): the NT-Xent loss against its closed form, the
// H&E stain perturbation, the views, and a few epochs on a tiny synthetic store.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <random>

#include "common/error.h"
#include "encoders/cnn.h"
#include "encoders/encoder.h"
#include "encoders/image_tensor.h"
#include "encoders/stain.h"
#include "test_util.h"
#include "tiny_store.h"
#include "train/pretrain.h"

using namespace hiscmcl;
using hiscmcl::test::TempDir;

// z1 = z2 = the unit vectors: each view's partner has cosine 1 and the 6 other candidates 0, so
// the loss is -log(e^(1/t) / (e^(1/t) + 6)). Shifting z2 by one row puts the cosine-1 candidate on
// the wrong view: -log(1 / (e^(1/t) + 6)), exactly 1/t more. Rows are normalised, so scale is moot.
TEST(NtXent, MatchesItsClosedForm) {
  const double t = 0.5;
  torch::Tensor e = torch::eye(4);
  const double right = -std::log(std::exp(1 / t) / (std::exp(1 / t) + 6));
  EXPECT_NEAR(nt_xent_loss(e, e, t).item<double>(), right, 1e-5);
  EXPECT_NEAR(nt_xent_loss(3 * e, 0.5 * e, t).item<double>(), right, 1e-5);
  torch::Tensor shifted = torch::roll(e, 1, 0);
  EXPECT_NEAR(nt_xent_loss(e, shifted, t).item<double>(), right + 1 / t, 1e-5);
  // Gradients pull each view towards its partner: one step lowers the loss.
  torch::Tensor z1 = torch::randn({8, 5}, torch::TensorOptions().requires_grad(true));
  torch::Tensor z2 = (z1.detach() + 0.5 * torch::randn({8, 5})).requires_grad_(true);
  torch::Tensor loss = nt_xent_loss(z1, z2, 0.2);
  loss.backward();
  torch::NoGradGuard g;
  EXPECT_LT(nt_xent_loss(z1 - 0.05 * z1.grad(), z2 - 0.05 * z2.grad(), 0.2).item<double>(), loss.item<double>());
}

TEST(PerturbStains, IdentityRoundTripsAndScalingHaematoxylinScalesIt) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> h(0.05, 0.5), eo(0.05, 0.4);
  cv::Mat img(16, 16, CV_8UC3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) img.at<cv::Vec3b>(y, x) = rgb_from_concentrations({h(rng), eo(rng), 0.0});
  cv::Mat same = perturb_stains(img, {1, 1, 1}, {0, 0, 0});
  cv::Mat diff;
  cv::absdiff(img, same, diff);
  double max_diff = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &max_diff);
  EXPECT_LE(max_diff, 1.0);

  cv::Mat darker = perturb_stains(img, {1.3, 1, 1}, {0, 0, 0});
  cv::Scalar before = cv::mean(deconvolve_stains(img)), after = cv::mean(deconvolve_stains(darker));
  EXPECT_NEAR(after[0] / before[0], 1.3, 0.03);  // haematoxylin up 30 %
  EXPECT_NEAR(after[1] / before[1], 1.0, 0.03);  // eosin where it was
  cv::Mat shifted = perturb_stains(img, {1, 1, 1}, {0, 0.05, 0});
  after = cv::mean(deconvolve_stains(shifted));
  EXPECT_NEAR(after[1] - before[1], 0.05, 0.01);
  EXPECT_NEAR(after[0] - before[0], 0.0, 0.01);
}

TEST(MakeView, SeededSizedAndVaried) {
  cv::Mat src(96, 96, CV_8UC3);
  cv::randu(src, cv::Scalar::all(0), cv::Scalar::all(255));
  std::mt19937_64 a(7), b(7), c(8);
  cv::Mat va = make_view(src, 64, a), vb = make_view(src, 64, b), vc = make_view(src, 64, c);
  EXPECT_EQ(va.rows, 64);
  EXPECT_EQ(va.cols, 64);
  EXPECT_EQ(va.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(va, vb, cv::NORM_INF), 0.0);  // same draws, same view
  EXPECT_GT(cv::norm(va, vc, cv::NORM_L1), 0.0);
  cv::Mat wide(32, 48, CV_8UC3, cv::Scalar::all(128));
  EXPECT_THROW(make_view(wide, 16, a), cv::Exception);  // sources are square
}

TEST(Pretrain, OptionsOutOfRangeNameTheFlag) {
  auto flag_of = [](auto change) {
    PretrainOptions o;
    change(o);
    try {
      validate(o);
    } catch (const InputError& e) {
      return e.file();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(flag_of([](PretrainOptions&) {}), "(accepted)");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.arch = "vit_huge"; }), "--arch");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.epochs = 0; }), "--epochs");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.batch_size = 1; }), "--batch-size");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.temperature = 0; }), "--temperature");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.lr = -1; }), "--lr");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.fov = 0; }), "--fov");
  EXPECT_EQ(flag_of([](PretrainOptions& o) { o.max_crops = -2; }), "--max-crops");
}

// 50 spots, 8 epochs of 3 steps: the loss falls, the weights move, a rerun repeats them bit for
// bit, and the saved file is what an encoder then embeds with.
TEST(Pretrain, LearnsOnATinyStoreRepeatsAndSavesAnEncoder) {
  TempDir dir;
  auto sections = test::tiny_store(dir);
  std::vector<const PreparedSection*> ptrs{&sections[0], &sections[1]};
  PretrainOptions o;
  o.epochs = 8;
  o.batch_size = 16;
  o.lr = 3e-3;
  PretrainResult r = pretrain_trunk(ptrs, o);
  EXPECT_EQ(r.n_crops, sections[0].n_spots() + sections[1].n_spots());
  ASSERT_EQ(r.epoch_loss.size(), 8u);
  for (double l : r.epoch_loss) EXPECT_TRUE(std::isfinite(l));
  // Chance is log(2B - 1) = log 31 = 3.43; a trunk that learns nothing stays near it.
  EXPECT_NEAR(r.epoch_loss.front(), std::log(31.0), 0.6);
  EXPECT_LT(r.epoch_loss.back(), r.epoch_loss.front() - 0.2);

  torch::manual_seed(o.seed);
  CnnTrunk init = make_cnn_trunk("small_cnn");
  auto trained = r.trunk->named_parameters(true);
  double moved = 0;
  for (const auto& p : init->named_parameters(true)) moved += (p.value() - trained[p.key()]).abs().sum().item<double>();
  EXPECT_GT(moved, 1.0);

  PretrainResult again = pretrain_trunk(ptrs, o);
  EXPECT_EQ(again.epoch_loss, r.epoch_loss);
  auto second = again.trunk->named_parameters(true);
  for (const auto& p : trained) EXPECT_TRUE(torch::equal(p.value(), second[p.key()])) << p.key();
  auto bufs = r.trunk->named_buffers(true), bufs2 = again.trunk->named_buffers(true);
  for (const auto& b : bufs) EXPECT_TRUE(torch::equal(b.value(), bufs2[b.key()])) << b.key();

  const std::string file = (dir / "ssl.pt").string();
  save_cnn_weights(*r.trunk, file);
  EncoderOptions eo;
  eo.weights = file;
  eo.use_onednn = false;
  auto enc = make_encoder("small_cnn", eo);
  EXPECT_EQ(enc->input_size(), 64);
  EXPECT_EQ(enc->dim(), 128);
  cv::Mat crop(64, 64, CV_8UC3);
  cv::randu(crop, cv::Scalar::all(0), cv::Scalar::all(255));
  Matrix m = enc->embed({crop});
  torch::Tensor x = crops_to_tensor({crop}, 64, imagenet_normalization());
  torch::NoGradGuard g;
  torch::Tensor y = r.trunk->forward(x);
  for (int64_t j = 0; j < 128; ++j) EXPECT_NEAR(m(0, j), y[0][j].item<float>(), 1e-4f + 1e-4f * std::abs(m(0, j)));
}
