// End-to-end training on CPU (one epoch over a tiny synthetic set: the trunk learns, the bundle
// carries it, predict sees slides through it) and the reference's upsampled-crop scales.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "data/patches.h"
#include "pipeline/prepare.h"
#include "encoders/cnn.h"
#include "encoders/section_features.h"
#include "io/dataset_store.h"
#include "io/slide_image.h"
#include "predict/retrieval_predictor.h"
#include "synth/synth_dataset.h"
#include "small_model.h"
#include "test_util.h"
#include "tiny_store.h"
#include "train/end_to_end.h"

using namespace hiscmcl;
using hiscmcl::test::TempDir;

namespace {

RunConfig e2e_config(const std::string& fusion) {
  RunConfig c = test::small_model_config(fusion, "batch");
  c.encoder.name = "resnet18";
  c.train.mode = TrainMode::end_to_end;
  c.train.epochs = 1;
  c.train.batch_size = 16;
  c.train.accumulation = 1;
  c.train.lr = 1e-3;
  c.predict.k = 5;
  return c;
}

double max_param_change(torch::nn::Module& a, torch::nn::Module& b) {
  double d = 0;
  auto pb = b.named_parameters();
  for (auto& p : a.named_parameters())
    d = std::max(d, (p.value() - pb[p.key()]).abs().max().item<double>());
  return d;
}

}  // namespace

TEST(EndToEnd, OneEpochOnCpuTrainsTheTrunkAndTheBundleCarriesIt) {
  TempDir dir;
  auto sections = test::tiny_store(dir);
  ASSERT_EQ(sections.size(), 2u);
  std::vector<const PreparedSection*> train = {&sections[0]};
  RunConfig c = e2e_config("hierarchical");
  TrainResult r = train_end_to_end(train, c);
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_TRUE(std::isfinite(r.log[0].loss));
  EXPECT_GT(r.log[0].loss, 0);
  ASSERT_TRUE(r.bundle.trunk);
  EXPECT_EQ(r.bundle.shape.feature_dim, 512);
  EXPECT_EQ(r.bundle.key_embeddings.size(0), sections[0].n_spots());

  // The trunk moved away from its seeded initialisation: gradients reached it.
  torch::manual_seed(c.train.seed);
  CnnTrunk fresh = make_cnn_trunk("resnet18");
  EXPECT_GT(max_param_change(*r.bundle.trunk, *fresh), 1e-5);

  // Saved and loaded, the bundle sees a new section through the same trained trunk.
  save_model_bundle(dir / "model", r.bundle);
  ModelBundle loaded = load_model_bundle(dir / "model");
  ASSERT_TRUE(loaded.trunk);
  EXPECT_EQ(max_param_change(*loaded.trunk, *r.bundle.trunk), 0.0);
  const PreparedSection& test = sections[1];
  auto image = SlideImage::open(test.image.image_path);
  auto enc_a = bundle_encoder(r.bundle), enc_b = bundle_encoder(loaded);
  SectionFeatures fa = embed_spots(*image, test.image.image_path, test.pixel_xy, test.image.spot_diameter_px,
                                   c.encoder, *enc_a);
  SectionFeatures fb = embed_spots(*image, test.image.image_path, test.pixel_xy, test.image.spot_diameter_px,
                                   loaded.config.encoder, *enc_b);
  ASSERT_EQ(fa.level("spot").rows, test.n_spots());
  EXPECT_EQ(fa.level("spot").to_matrix().data, fb.level("spot").to_matrix().data);
  RetrievalPredictor pa(r.bundle, r.bundle.config.predict), pb(loaded, loaded.config.predict);
  Matrix ya = pa.predict(test.pixel_xy, fa).mean, yb = pb.predict(test.pixel_xy, fb).mean;
  ASSERT_EQ(ya.rows, test.n_spots());
  ASSERT_EQ(ya.cols, 30);
  EXPECT_EQ(ya.data, yb.data);
  for (float v : ya.data) ASSERT_TRUE(std::isfinite(v));
}

TEST(EndToEnd, SpotFusionWithoutAugmentationRunsAndOnlyCnnTrunksAreAccepted) {
  TempDir dir;
  auto sections = test::tiny_store(dir);
  std::vector<const PreparedSection*> train = {&sections[0], &sections[1]};
  RunConfig c = e2e_config("spot");
  c.train.augment = false;
  c.train.batch_size = 64;  // one step over both sections
  TrainResult r = train_end_to_end(train, c);
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_TRUE(std::isfinite(r.log[0].loss));
  EXPECT_EQ(r.bundle.key_embeddings.size(0), sections[0].n_spots() + sections[1].n_spots());

  c.encoder.name = "histo";  // no trunk to train
  std::string msg = test::input_error_of([&] { train_end_to_end(train, c); });
  EXPECT_NE(msg.find("resnet18"), std::string::npos) << msg;
}

TEST(UpsampledScales, LevelsParseAndUpsampledFeaturesAreTheSpotCropResized) {
  EncoderConfig e;
  EXPECT_EQ(multiscale_levels(e), (std::vector<std::string>{"spot", "neighbourhood"}));
  e.upsampled_scales = "224,448";
  auto levels = feature_levels(e);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[2].name, "up448");
  EXPECT_DOUBLE_EQ(levels[2].upsample, 2.0);
  EXPECT_EQ(multiscale_levels(e), (std::vector<std::string>{"spot", "up448"}));
  EXPECT_EQ(upsampled_scale_list("224, 672"), (std::vector<int>{224, 672}));
  EXPECT_THROW(upsampled_scale_list("224"), InputError);
  EXPECT_THROW(upsampled_scale_list("224,x"), InputError);
  EXPECT_THROW(upsampled_scale_list("224,-3"), InputError);

  // A 300x300 image, three spots of 60 px: the up448 feature of a spot is the encoder's output
  // on its 224 px spot crop resized bilinearly to 448.
  TempDir dir;
  cv::Mat img(300, 300, CV_8UC3);
  cv::randu(img, 0, 255);
  cv::imwrite((dir / "img.png").string(), img);
  auto image = SlideImage::open((dir / "img.png").string());
  std::vector<std::array<double, 2>> centres = {{80, 90}, {150, 150}, {220, 200}};
  e.name = "resnet18";
  EncoderOptions eo;
  eo.batch_size = 4;
  auto enc = make_encoder("resnet18", eo);
  SectionFeatures f = embed_spots(*image, "img.png", centres, 60, e, *enc);
  ASSERT_EQ(f.level_names, (std::vector<std::string>{"spot", "neighbourhood", "up448"}));
  for (size_t i = 0; i < centres.size(); ++i) {
    cv::Mat crop = crop_patch(*image, centres[i], 60, 224), up;
    cv::resize(crop, up, cv::Size(448, 448), 0, 0, cv::INTER_LINEAR);
    Matrix direct = enc->embed(std::vector<cv::Mat>{up});
    for (int64_t c = 0; c < direct.cols; ++c)
      ASSERT_NEAR(f.level("up448")(int64_t(i), c), direct(0, c), 1e-4) << i << " " << c;
  }
  // Differs from the 224 feature: more pixels, same field of view, a different picture to a CNN.
  EXPECT_GT(std::fabs(f.level("up448")(0, 0) - f.level("spot")(0, 0)) +
                std::fabs(f.level("up448")(0, 1) - f.level("spot")(0, 1)),
            1e-6);

  // The weight-free encoder takes one input size: refused with a message naming the key.
  auto histo = make_encoder("histo");
  e.name = "histo";
  std::string msg = test::input_error_of([&] { embed_spots(*image, "img.png", centres, 60, e, *histo); });
  EXPECT_NE(msg.find("upsampled_scales"), std::string::npos) << msg;
}

TEST(RunConfigs, ShippedConfigsLoadAndSayWhatTheyAre) {
  auto path = [](const char* n) { return std::filesystem::path(HISCMCL_SOURCE_DIR) / "configs" / n; };
  RunConfig d = load_run_config(path("default.toml"));
  EXPECT_EQ(d.train.mode, TrainMode::frozen);
  EXPECT_EQ(d.encoder.name, "histo");
  EXPECT_EQ(d.model.fusion, Fusion::hierarchical);
  EXPECT_EQ(d.predict.weighting, Weighting::inverse_square);
  EXPECT_EQ(d.predict.keys, RetrievalKeys::image);

  RunConfig r = load_run_config(path("reference.toml"));  // METHOD.md §1.3
  EXPECT_EQ(r.train.mode, TrainMode::end_to_end);
  EXPECT_TRUE(r.train.augment);
  EXPECT_EQ(r.encoder.name, "densenet121");
  EXPECT_EQ(r.encoder.compat_crop_px, 224);
  EXPECT_EQ(multiscale_levels(r.encoder), (std::vector<std::string>{"spot", "up672"}));
  EXPECT_EQ(r.loss.temperature, 1.0);
  EXPECT_FALSE(r.loss.l2_normalize);
  EXPECT_EQ(r.train.lr, 1e-4);
  EXPECT_EQ(r.train.epochs, 100);
  EXPECT_EQ(r.model.spot_heads, 16);
  EXPECT_EQ(r.model.spot_head_dim, 128);
  EXPECT_EQ(r.predict.key_chunk, 32);
  EXPECT_EQ(r.data.eval_norm, Normalization::per_gene_compat);
  EXPECT_EQ(r.predict.keys, RetrievalKeys::expression);  // the paper's retrieval
  EXPECT_FALSE(r.predict.centre_sections);

  RunConfig f = load_run_config(path("reference_frozen.toml"));
  EXPECT_EQ(f.train.mode, TrainMode::frozen);
  EXPECT_EQ(multiscale_levels(f.encoder), (std::vector<std::string>{"spot", "neighbourhood"}));

  // A bad list is refused naming the file and the key.
  TempDir dir;
  std::ofstream(dir / "bad.toml") << "[encoder]\nupsampled_scales = \"224;672\"\n";
  std::string msg = test::input_error_of([&] { load_run_config(dir / "bad.toml"); });
  EXPECT_NE(msg.find("bad.toml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("upsampled_scales"), std::string::npos) << msg;
}
