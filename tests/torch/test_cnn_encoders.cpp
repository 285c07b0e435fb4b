// CNN trunks (torchvision names, weight files, CPU layouts), image tensors, CnnEncoder,
// the torchscript:<file> encoder and make_encoder. Small inputs keep each test to seconds.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/core.hpp>

#include "common/error.h"
#include "encoders/cnn.h"
#include "encoders/encoder.h"
#include "encoders/image_tensor.h"
#include "test_util.h"

using namespace hiscmcl;
using hiscmcl::test::TempDir;

namespace {

int64_t param_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

bool has_key(const torch::nn::Module& m, const std::string& key) {
  for (const auto& p : m.named_parameters()) if (p.key() == key) return true;
  for (const auto& b : m.named_buffers()) if (b.key() == key) return true;
  return false;
}

// Gives every BN buffer non-trivial values so that a weight file that lost them would show.
void randomise_buffers(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
  }
}

// Deterministic RGB crop whose pixels python can recompute: (i*7 + y*3 + x*5 + c*11) % 256.
cv::Mat pattern_crop(int i, int size) {
  cv::Mat m(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) m.at<cv::Vec3b>(y, x)[c] = uint8_t((i * 7 + y * 3 + x * 5 + c * 11) % 256);
  return m;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// Parameter counts are torchvision's totals minus the classifier (fc / classifier).
TEST(CnnTrunk, ShapesParameterCountsAndTorchvisionNames) {
  struct Case { const char* name; int64_t dim, params; std::vector<std::string> keys; };
  const std::vector<Case> cases = {
      {"resnet18", 512, 11689512 - (512 * 1000 + 1000),
       {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.num_batches_tracked", "layer4.1.bn2.bias"}},
      {"resnet50", 2048, 25557032 - (2048 * 1000 + 1000),
       {"layer1.0.conv3.weight", "layer1.0.downsample.1.running_mean", "layer4.2.bn3.weight"}},
      {"densenet121", 1024, 7978856 - (1024 * 1000 + 1000),
       {"features.conv0.weight", "features.norm0.running_mean",
        "features.denseblock1.denselayer1.norm1.weight", "features.denseblock4.denselayer16.conv2.weight",
        "features.transition1.norm.weight", "features.transition3.conv.weight", "features.norm5.running_var"}},
      // 7 bias-free 3x3 convs (16, 32, 32, 64, 64, 128, 128 wide) and their BatchNorms.
      {"small_cnn", 128, 290736 + 2 * (16 + 32 + 32 + 64 + 64 + 128 + 128),
       {"features.stem.weight", "features.stem_bn.running_var", "features.stage3b.weight"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    CnnTrunk t = make_cnn_trunk(c.name);
    EXPECT_EQ(t->dim(), c.dim);
    EXPECT_EQ(cnn_trunk_dim(c.name), c.dim);
    EXPECT_EQ(param_count(*t), c.params);
    for (const auto& k : c.keys) EXPECT_TRUE(has_key(*t, k)) << k;
    EXPECT_FALSE(has_key(*t, "fc.weight"));
    EXPECT_FALSE(has_key(*t, "classifier.weight"));
    t->eval();
    torch::NoGradGuard g;
    torch::Tensor y = t->forward(torch::randn({2, 3, 64, 64}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, c.dim}));
  }
  EXPECT_THROW(make_cnn_trunk("vgg16"), std::invalid_argument);
}

// torchvision has 122 resnet18 keys (fc.weight, fc.bias dropped here) and 320 for resnet50.
TEST(CnnTrunk, StateDictKeyCountsMatchTorchvision) {
  auto count = [](const torch::nn::Module& m) {
    return int64_t(m.named_parameters().size() + m.named_buffers().size());
  };
  EXPECT_EQ(count(*make_cnn_trunk("resnet18")), 122 - 2);
  EXPECT_EQ(count(*make_cnn_trunk("resnet50")), 320 - 2);
}

// Without the ReLU after norm5 (reference quirk) pooled features can be negative.
TEST(CnnTrunk, DenseNetHasNoFinalRelu) {
  torch::manual_seed(0);
  CnnTrunk t = make_cnn_trunk("densenet121");
  t->eval();
  torch::NoGradGuard g;
  torch::Tensor y = t->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_LT(y.min().item<float>(), 0.f);
}

TEST(CnnTrunk, LayoutsGiveTheSameFeatures) {
  for (const char* name : {"resnet18", "resnet50", "densenet121", "small_cnn"}) {
    SCOPED_TRACE(name);
    torch::manual_seed(1);
    CnnTrunk t = make_cnn_trunk(name);
    randomise_buffers(*t);
    torch::Tensor x = torch::randn({2, 3, 64, 64});
    prepare_trunk_for_inference(t, CpuLayout::contiguous);
    torch::Tensor ref = trunk_inference(t, x, CpuLayout::contiguous);
    torch::Tensor mk = trunk_inference(t, x, CpuLayout::mkldnn);
    prepare_trunk_for_inference(t, CpuLayout::channels_last);
    torch::Tensor cl = trunk_inference(t, x, CpuLayout::channels_last);
    const float scale = ref.abs().max().item<float>();
    EXPECT_LT((mk - ref).abs().max().item<float>(), 1e-4f * scale);
    EXPECT_LT((cl - ref).abs().max().item<float>(), 1e-4f * scale);
    EXPECT_FALSE(mk.is_mkldnn());
  }
}

TEST(CnnWeights, RoundTripReproducesTheSourceModel) {
  TempDir dir;
  const std::string file = (dir / "r18.pt").string();
  torch::manual_seed(11);
  CnnTrunk src = make_cnn_trunk("resnet18");
  randomise_buffers(*src);
  save_cnn_weights(*src, file);
  torch::manual_seed(12);
  CnnTrunk dst = make_cnn_trunk("resnet18");
  torch::Tensor x = torch::randn({2, 3, 64, 64});
  src->eval();
  dst->eval();
  torch::NoGradGuard g;
  EXPECT_GT((src->forward(x) - dst->forward(x)).abs().max().item<float>(), 1e-3f);  // differ before
  load_cnn_weights(*dst, file);
  EXPECT_TRUE(torch::equal(src->forward(x), dst->forward(x)));
}

TEST(CnnWeights, MissingExtraAndMisShapedKeysNameFileAndKey) {
  TempDir dir;
  CnnTrunk t = make_cnn_trunk("resnet18");
  auto write_dict = [&](const std::string& name, const std::function<void(c10::Dict<std::string, torch::Tensor>&)>& edit) {
    c10::Dict<std::string, torch::Tensor> d;
    for (const auto& p : t->named_parameters()) d.insert(p.key(), p.value().detach());
    for (const auto& b : t->named_buffers()) d.insert(b.key(), b.value());
    edit(d);
    std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return path;
  };
  const std::string missing = write_dict("missing.pt", [](auto& d) { d.erase("layer1.0.bn1.running_mean"); });
  std::string msg = error_of([&] { load_cnn_weights(*t, missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing key 'layer1.0.bn1.running_mean'"), std::string::npos) << msg;
  EXPECT_THROW(load_cnn_weights(*t, missing), InputError);

  const std::string extra = write_dict("extra.pt", [](auto& d) { d.insert("fc.weight", torch::zeros({1000, 512})); });
  msg = error_of([&] { load_cnn_weights(*t, extra); });
  EXPECT_NE(msg.find("unexpected key 'fc.weight'"), std::string::npos) << msg;

  const std::string shaped = write_dict("shape.pt", [](auto& d) { d.insert_or_assign("bn1.weight", torch::ones({32})); });
  msg = error_of([&] { load_cnn_weights(*t, shaped); });
  EXPECT_NE(msg.find("'bn1.weight' has shape [32]"), std::string::npos) << msg;

  write_file(dir / "junk.pt", "not a zip");
  msg = error_of([&] { load_cnn_weights(*t, (dir / "junk.pt").string()); });
  EXPECT_NE(msg.find("junk.pt"), std::string::npos) << msg;
  EXPECT_THROW(load_cnn_weights(*t, (dir / "absent.pt").string()), InputError);
}

// The file format scripts/convert_torchvision.py writes, produced by Debian's python3 + torch
// through the script's own functions (torchvision is not needed for those).
TEST(CnnWeights, LoadsWhatTheConversionScriptWrites) {
  const std::string py = hiscmcl::test::python_with("torch");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  TempDir dir;
  CnnTrunk t = make_cnn_trunk("resnet18");
  {
    std::ofstream keys(dir / "keys.txt");
    for (const auto& p : t->named_parameters()) { keys << p.key(); for (auto s : p.value().sizes()) keys << ' ' << s; keys << '\n'; }
    for (const auto& b : t->named_buffers()) { keys << b.key(); for (auto s : b.value().sizes()) keys << ' ' << s; keys << '\n'; }
  }
  // Value of element j of key number k: ((k * 31 + j) % 97) / 97; num_batches_tracked = k.
  write_file(dir / "make.py", R"(
import sys, torch
sys.path.insert(0, sys.argv[1] + "/scripts")
from convert_torchvision import trunk_state_dict, save_for_hiscmcl
from collections import OrderedDict
sd = OrderedDict()
for k, line in enumerate(open(sys.argv[2])):
    f = line.split(); shape = [int(s) for s in f[1:]]
    if f[0].endswith("num_batches_tracked"):
        sd[f[0]] = torch.tensor(k, dtype=torch.int64)
    else:
        n = 1
        for s in shape: n *= s
        sd[f[0]] = (((torch.arange(n, dtype=torch.int64) + k * 31) % 97).float() / 97).reshape(shape)
sd["fc.weight"] = torch.zeros(1000, 512); sd["fc.bias"] = torch.zeros(1000)
save_for_hiscmcl(trunk_state_dict("resnet18", sd), sys.argv[3])
)");
  auto r = hiscmcl::test::run_command(py + " " + (dir / "make.py").string() + " " + HISCMCL_SOURCE_DIR +
                                      " " + (dir / "keys.txt").string() + " " + (dir / "w.pt").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  load_cnn_weights(*t, (dir / "w.pt").string());
  int64_t k = 0;
  auto expect_tensor = [&](const std::string& key, const torch::Tensor& v) {
    if (key.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(v.item<int64_t>(), k) << key;
    } else {
      torch::Tensor want = ((torch::arange(v.numel(), torch::kInt64) + k * 31) % 97).to(torch::kFloat) / 97;
      EXPECT_TRUE(torch::equal(v.reshape({-1}), want)) << key;
    }
    ++k;
  };
  for (const auto& p : t->named_parameters()) expect_tensor(p.key(), p.value());
  for (const auto& b : t->named_buffers()) expect_tensor(b.key(), b.value());
}

TEST(ImageTensor, NormalisesRgbPixelsByHand) {
  cv::Mat crop(2, 2, CV_8UC3, cv::Scalar(255, 0, 128));  // R=255 G=0 B=128 everywhere
  torch::Tensor t = crops_to_tensor({crop}, 2, imagenet_normalization());
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_NEAR(t[0][0][1][1].item<float>(), (1.0f - 0.485f) / 0.229f, 1e-5);
  EXPECT_NEAR(t[0][1][0][1].item<float>(), (0.0f - 0.456f) / 0.224f, 1e-5);
  EXPECT_NEAR(t[0][2][1][0].item<float>(), (128.f / 255.f - 0.406f) / 0.225f, 1e-5);
  torch::Tensor raw = crops_to_tensor({crop, crop}, 2, normalization_from_name("none"));
  EXPECT_FLOAT_EQ(raw[1][0][0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(raw[1][1][0][0].item<float>(), 0.0f);
  EXPECT_NEAR(raw[1][2][0][0].item<float>(), 128.f / 255.f, 1e-6);
  // Another size is resized; a uniform image stays uniform.
  EXPECT_EQ(crops_to_tensor({cv::Mat(5, 5, CV_8UC3, cv::Scalar(255, 0, 128))}, 2, {}).sizes(),
            (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_THROW(crops_to_tensor({cv::Mat(2, 2, CV_8UC1)}, 2, {}), std::invalid_argument);
  EXPECT_THROW(normalization_from_name("zscore"), std::invalid_argument);
}

TEST(CnnEncoder, SeededBatchedAndOneDnnAgree) {
  EncoderOptions opt;
  opt.seed = 3;
  opt.batch_size = 2;
  opt.use_onednn = true;
  std::vector<cv::Mat> crops{pattern_crop(0, 224), pattern_crop(1, 224), pattern_crop(2, 224)};
  auto a = make_encoder("resnet18", opt);
  EXPECT_EQ(a->dim(), 512);
  EXPECT_EQ(a->input_size(), 224);
  Matrix ea = a->embed(crops);
  ASSERT_EQ(ea.rows, 3);
  ASSERT_EQ(ea.cols, 512);
  opt.use_onednn = false;
  opt.batch_size = 3;
  Matrix eb = make_encoder("resnet18", opt)->embed(crops);  // same seed, other path and batching
  float max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < ea.data.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(ea.data[i] - eb.data[i]));
    max_abs = std::max(max_abs, std::abs(eb.data[i]));
  }
  EXPECT_GT(max_abs, 0.f);
  EXPECT_LT(max_diff, 1e-4f * max_abs);
  opt.seed = 4;
  Matrix ec = make_encoder("resnet18", opt)->embed({crops[0]});
  EXPECT_GT(std::abs(ec(0, 0) - eb(0, 0)) + std::abs(ec(0, 1) - eb(0, 1)), 1e-6f);  // seed matters
}

TEST(MakeEncoder, UnknownNameListsValidNames) {
  std::string msg = error_of([] { make_encoder("vit_huge"); });
  EXPECT_NE(msg.find("resnet50"), std::string::npos) << msg;
  EXPECT_NE(msg.find("torchscript:<file>"), std::string::npos) << msg;
  EXPECT_THROW(make_encoder("vit_huge"), std::invalid_argument);
  EncoderOptions bad;
  bad.device = "tpu";
  EXPECT_THROW(make_encoder("resnet18", bad), std::invalid_argument);
  if (!torch::cuda::is_available()) {
    bad.device = "cuda";
    msg = error_of([&] { make_encoder("resnet18", bad); });
    EXPECT_NE(msg.find("no CUDA device"), std::string::npos) << msg;
  }
}

// A small model traced by Debian's python3 + torch; python prints the reference features.
TEST(TorchscriptEncoder, MatchesPythonOutputsAndReadsSidecar) {
  const std::string py = hiscmcl::test::python_with("torch");
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch: no model to trace";
  TempDir dir;
  write_file(dir / "trace.py", R"(
import sys, torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(),
                          torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
mean = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1); std = torch.tensor([0.25, 0.2, 0.1]).view(1, 3, 1, 1)
s = 32
i = torch.arange(3).view(3, 1, 1, 1); c = torch.arange(3).view(1, 3, 1, 1)
y = torch.arange(s).view(1, 1, s, 1); x = torch.arange(s).view(1, 1, 1, s)
img = ((i * 7 + y * 3 + x * 5 + c * 11) % 256).float() / 255
traced = torch.jit.trace(net, torch.zeros(1, 3, s, s))
traced.save(sys.argv[1] + "/model.pt")
with torch.no_grad():
    out = net((img - mean) / std)
for row in out: print(" ".join(repr(float(v)) for v in row))
)");
  write_file(dir / "model.json", R"({"input_size": 32, "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.1]})");
  auto r = hiscmcl::test::run_command(py + " " + (dir / "trace.py").string() + " " + dir.path.string() + " 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::vector<float> want;
  for (float v; in >> v;) want.push_back(v);
  ASSERT_EQ(want.size(), 12u) << r.output;

  EncoderOptions opt;
  opt.batch_size = 2;
  auto enc = make_encoder("torchscript:" + (dir / "model.pt").string(), opt);
  EXPECT_EQ(enc->input_size(), 32);
  EXPECT_EQ(enc->dim(), 4);  // probed: the side-car has no output_dim
  Matrix got = enc->embed({pattern_crop(0, 32), pattern_crop(1, 32), pattern_crop(2, 32)});
  ASSERT_EQ(got.rows, 3);
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got.data[k], want[k], 1e-5f) << k;

  // <file>.json wins over <file minus extension>.json; a wrong output_dim is caught.
  write_file(dir / "model.pt.json", R"({"input_size": 32, "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.1], "output_dim": 5})");
  auto wrong = make_encoder("torchscript:" + (dir / "model.pt").string(), opt);
  EXPECT_EQ(wrong->dim(), 5);
  EXPECT_THROW(wrong->embed({pattern_crop(0, 32)}), InputError);

  write_file(dir / "model.pt.json", R"({"input_size": 32, "mean": [0.5, 0.4]})");
  std::string msg = error_of([&] { make_encoder("torchscript:" + (dir / "model.pt").string(), opt); });
  EXPECT_NE(msg.find("model.pt.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"mean\""), std::string::npos) << msg;

  write_file(dir / "notamodel.pt", "garbage");
  EXPECT_THROW(make_encoder("torchscript:" + (dir / "notamodel.pt").string(), opt), InputError);
  EXPECT_THROW(make_encoder("torchscript:" + (dir / "absent.pt").string(), opt), InputError);
}
