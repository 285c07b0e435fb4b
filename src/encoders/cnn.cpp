// ResNet-18/50 and DenseNet-121 trunks with torchvision's names, weight files, CPU layouts.
#include "encoders/cnn.h"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "dist/process_group.h"

namespace hiscmcl {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

// ---- ResNet (torchvision v1.5: the stride sits on the 3x3 conv of a bottleneck) ----

struct BasicBlockImpl : nn::Module {
  static constexpr int64_t expansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", conv(in, planes, 3, stride, 1));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    if (stride != 1 || in != planes)
      downsample = register_module(
          "downsample", nn::Sequential(conv(in, planes, 1, stride, 0), nn::BatchNorm2d(planes)));
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? downsample->forward(x) : x;
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    return torch::relu(out + identity);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

struct BottleneckImpl : nn::Module {
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", conv(in, planes, 1, 1, 0));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1, 0));
    bn3 = register_module("bn3", nn::BatchNorm2d(planes * expansion));
    if (stride != 1 || in != planes * expansion)
      downsample = register_module("downsample",
                                   nn::Sequential(conv(in, planes * expansion, 1, stride, 0),
                                                  nn::BatchNorm2d(planes * expansion)));
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? downsample->forward(x) : x;
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    out = torch::relu(bn2(conv2(out)));
    out = bn3(conv3(out));
    return torch::relu(out + identity);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// Global average pool to [B,C], leaving oneDNN layout at the end of the trunk.
torch::Tensor pool_flatten(const torch::Tensor& x) {
  torch::Tensor p = torch::adaptive_avg_pool2d(x, {1, 1});
  if (p.is_mkldnn()) p = p.to_dense();
  return p.flatten(1);
}

template <typename Block>
struct ResNetImpl : CnnTrunkImpl {
  ResNetImpl(std::array<int64_t, 4> blocks) {
    conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1 = register_module("bn1", nn::BatchNorm2d(64));
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int i = 0; i < 4; ++i) {
      nn::Sequential layer;
      for (int64_t b = 0; b < blocks[i]; ++b) {
        layer->push_back(Block(in_, planes[i], (b == 0 && i > 0) ? 2 : 1));
        in_ = planes[i] * Block::ContainedType::expansion;
      }
      layers[i] = register_module("layer" + std::to_string(i + 1), layer);
    }
    for (auto& m : modules(/*include_self=*/false))
      if (auto* c = m->as<nn::Conv2d>())
        nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1(conv1(x)));
    x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& layer : layers) x = layer->forward(x);
    return pool_flatten(x);
  }
  int64_t dim() const override { return in_; }

  int64_t in_ = 64;
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  nn::Sequential layers[4] = {nullptr, nullptr, nullptr, nullptr};
};

// ---- DenseNet-121 (growth 32, blocks 6/12/24/16, bn_size 4, 64 initial features) ----

struct DenseLayerImpl : nn::Module {
  DenseLayerImpl(int64_t in, int64_t growth, int64_t bn_size) {
    norm1 = register_module("norm1", nn::BatchNorm2d(in));
    conv1 = register_module("conv1", conv(in, bn_size * growth, 1, 1, 0));
    norm2 = register_module("norm2", nn::BatchNorm2d(bn_size * growth));
    conv2 = register_module("conv2", conv(bn_size * growth, growth, 3, 1, 1));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = conv1(torch::relu(norm1(x)));
    return conv2(torch::relu(norm2(x)));
  }
  nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

struct DenseBlockImpl : nn::Module {
  DenseBlockImpl(int64_t layers, int64_t in, int64_t growth, int64_t bn_size) {
    for (int64_t i = 0; i < layers; ++i)
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        DenseLayer(in + i * growth, growth, bn_size)));
  }
  // oneDNN has no concatenation in LibTorch 1.13, so the growing feature stack stays dense and
  // each layer's input is converted on the way in.
  torch::Tensor forward(torch::Tensor x) {
    const bool mk = x.is_mkldnn();
    std::vector<torch::Tensor> feats{mk ? x.to_dense() : x};
    for (auto& layer : layers_) {
      torch::Tensor in = torch::cat(feats, 1);
      torch::Tensor out = layer->forward(mk ? in.to_mkldnn() : in);
      feats.push_back(mk ? out.to_dense() : out);
    }
    torch::Tensor all = torch::cat(feats, 1);
    return mk ? all.to_mkldnn() : all;
  }
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

struct TransitionImpl : nn::Module {
  TransitionImpl(int64_t in, int64_t out) {
    norm = register_module("norm", nn::BatchNorm2d(in));
    conv = register_module("conv", hiscmcl::conv(in, out, 1, 1, 0));
  }
  torch::Tensor forward(torch::Tensor x) {
    return torch::avg_pool2d(conv(torch::relu(norm(x))), 2, 2);
  }
  nn::BatchNorm2d norm{nullptr};
  nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Transition);

struct DenseNetImpl : CnnTrunkImpl {
  DenseNetImpl() {
    const int64_t growth = 32, bn_size = 4, blocks[4] = {6, 12, 24, 16};
    nn::Sequential f;
    f->push_back("conv0", nn::Conv2d(nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
    f->push_back("norm0", nn::BatchNorm2d(64));
    f->push_back("relu0", nn::ReLU());
    f->push_back("pool0", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int64_t c = 64;
    for (int i = 0; i < 4; ++i) {
      f->push_back("denseblock" + std::to_string(i + 1), DenseBlock(blocks[i], c, growth, bn_size));
      c += blocks[i] * growth;
      if (i < 3) {
        f->push_back("transition" + std::to_string(i + 1), Transition(c, c / 2));
        c /= 2;
      }
    }
    f->push_back("norm5", nn::BatchNorm2d(c));  // no ReLU after it: reference quirk, METHOD.md §9.8
    features = register_module("features", f);
    dim_ = c;
    for (auto& m : modules(/*include_self=*/false))
      if (auto* cv = m->as<nn::Conv2d>()) nn::init::kaiming_normal_(cv->weight);
  }
  torch::Tensor forward(torch::Tensor x) override { return pool_flatten(features->forward(x)); }
  int64_t dim() const override { return dim_; }

  nn::Sequential features{nullptr};
  int64_t dim_ = 0;
};

// ---- small_cnn: a VGG-style trunk sized for self-supervised pretraining on a CPU (hiscmcl
// pretrain): a strided stem, then three stages of two 3x3 convs each, max-pooled in between;
// 0.29 M parameters and ~43 M multiply-adds a 64 px crop (ResNet-18: 11 M and 1.8 G at 224). ----

struct SmallCnnImpl : CnnTrunkImpl {
  SmallCnnImpl() {
    nn::Sequential f;
    auto conv_bn_relu = [&](const std::string& name, int64_t in, int64_t out, int64_t stride) {
      f->push_back(std::string(name), conv(in, out, 3, stride, 1));
      f->push_back(name + "_bn", nn::BatchNorm2d(out));
      f->push_back(name + "_relu", nn::ReLU());
    };
    conv_bn_relu("stem", 3, 16, 2);
    const int64_t widths[3] = {32, 64, 128};
    int64_t c = 16;
    for (int s = 0; s < 3; ++s) {
      const std::string stage = "stage" + std::to_string(s + 1);
      conv_bn_relu(stage + "a", c, widths[s], 1);
      conv_bn_relu(stage + "b", widths[s], widths[s], 1);
      if (s < 2) f->push_back(stage + "_pool", nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      c = widths[s];
    }
    features = register_module("features", f);
    for (auto& m : modules(/*include_self=*/false))
      if (auto* cv = m->as<nn::Conv2d>())
        nn::init::kaiming_normal_(cv->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
  torch::Tensor forward(torch::Tensor x) override { return pool_flatten(features->forward(x)); }
  int64_t dim() const override { return 128; }

  nn::Sequential features{nullptr};
};

std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

}  // namespace

const std::vector<std::string>& cnn_trunk_names() {
  static const std::vector<std::string> names{"resnet18", "resnet50", "densenet121", "small_cnn"};
  return names;
}

bool is_cnn_trunk_name(const std::string& name) {
  for (const auto& n : cnn_trunk_names())
    if (n == name) return true;
  return false;
}

std::string cnn_trunk_name_list() {
  std::string list;
  for (const auto& n : cnn_trunk_names()) list += (list.empty() ? "" : ", ") + n;
  return list;
}

CnnTrunk make_cnn_trunk(const std::string& name) {
  if (name == "resnet18") return CnnTrunk(std::shared_ptr<CnnTrunkImpl>(
        std::make_shared<ResNetImpl<BasicBlock>>(std::array<int64_t, 4>{2, 2, 2, 2})));
  if (name == "resnet50") return CnnTrunk(std::shared_ptr<CnnTrunkImpl>(
        std::make_shared<ResNetImpl<Bottleneck>>(std::array<int64_t, 4>{3, 4, 6, 3})));
  if (name == "densenet121") return CnnTrunk(std::shared_ptr<CnnTrunkImpl>(std::make_shared<DenseNetImpl>()));
  if (name == "small_cnn") return CnnTrunk(std::shared_ptr<CnnTrunkImpl>(std::make_shared<SmallCnnImpl>()));
  throw std::invalid_argument("unknown CNN trunk '" + name + "' (valid: " + cnn_trunk_name_list() + ")");
}

int64_t cnn_trunk_dim(const std::string& name) {
  if (name == "resnet18") return 512;
  if (name == "resnet50") return 2048;
  if (name == "densenet121") return 1024;
  if (name == "small_cnn") return 128;
  throw std::invalid_argument("unknown CNN trunk '" + name + "' (valid: " + cnn_trunk_name_list() + ")");
}

int cnn_trunk_input_px(const std::string& name) {
  if (name == "small_cnn") return 64;
  cnn_trunk_dim(name);  // throws on an unknown name
  return 224;
}

void load_cnn_weights(torch::nn::Module& module, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open the weight file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw InputError(path, "not a weight file written by torch.save / scripts/convert_torchvision.py (" +
                               msg.substr(0, msg.find('\n')) + ")");
  }
  if (!value.isGenericDict())
    throw InputError(path, "expected a dict {name: tensor}; convert torchvision weights with "
                           "scripts/convert_torchvision.py");
  // Keep the file's key order so "the first unexpected key" is the first in the file.
  std::vector<std::string> file_order;
  std::map<std::string, torch::Tensor> source;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString()) throw InputError(path, "a key of the weight dict is not a string");
    const std::string key = entry.key().toStringRef();
    if (!entry.value().isTensor()) throw InputError(path, "value is not a tensor", "key '" + key + "'");
    file_order.push_back(key);
    source[key] = entry.value().toTensor();
  }
  // Check everything before copying anything: a bad file leaves the module untouched.
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& p : module.named_parameters(true)) targets.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) targets.emplace_back(b.key(), b.value());
  std::map<std::string, bool> expected;
  for (const auto& [key, t] : targets) {
    expected[key] = true;
    auto it = source.find(key);
    if (it == source.end())
      throw InputError(path, "missing key '" + key + "' (shape " + shape_str(t.sizes()) + ")");
    if (it->second.sizes() != t.sizes())
      throw InputError(path, "key '" + key + "' has shape " + shape_str(it->second.sizes()) +
                                 ", the model expects " + shape_str(t.sizes()));
  }
  for (const auto& key : file_order)
    if (!expected.count(key))
      throw InputError(path, "unexpected key '" + key + "' (not a parameter or buffer of this model;"
                             " classifier weights fc.* / classifier.* must be dropped)");
  torch::NoGradGuard no_grad;
  for (auto& [key, t] : targets) t.copy_(source[key]);
}

void save_cnn_weights(const torch::nn::Module& module, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& p : module.named_parameters(true)) dict.insert(p.key(), p.value().detach().cpu());
  for (const auto& b : module.named_buffers(true)) dict.insert(b.key(), b.value().cpu());
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.close();  // a full disk shows at the last flush
    if (!f) throw InputError(path, "cannot write the weight file (disk full?)");
  }
  out.commit();
}

CpuLayout fastest_cpu_layout(const std::string& name) {
  return name == "densenet121" ? CpuLayout::channels_last : CpuLayout::mkldnn;
}

void prepare_trunk_for_inference(CnnTrunk& trunk, CpuLayout layout) {
  trunk->eval();
  if (layout != CpuLayout::channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& p : trunk->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
}

torch::Tensor trunk_inference(CnnTrunk& trunk, const torch::Tensor& x, CpuLayout layout) {
  torch::NoGradGuard no_grad;
  torch::Tensor out;
  if (layout == CpuLayout::contiguous || !x.device().is_cpu())
    out = trunk->forward(x.contiguous());
  else if (layout == CpuLayout::channels_last)
    out = trunk->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  else {
    // oneDNN tensors have no autograd kernels: LibTorch 2.x refuses e.g. max_pool2d on them as
    // ambiguous even without grad. Inference needs none, so dispatch below autograd.
    at::AutoDispatchBelowAutograd below_autograd;
    out = trunk->forward(x.contiguous().to_mkldnn());
  }
  if (out.is_mkldnn()) out = out.to_dense();
  return out.contiguous();
}

}  // namespace hiscmcl

namespace hiscmcl {

torch::Device encoder_device(const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  if (device.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("--device " + device +
                               ": no CUDA device available (this LibTorch build is CPU-only or no "
                               "GPU is visible); build against a CUDA LibTorch or use --device cpu");
    // Several processes on a node: plain "cuda" is each rank's own GPU, cuda:LOCAL_RANK.
    if (device == "cuda" && dist::local_rank() > 0) return torch::Device(torch::kCUDA, int8_t(dist::local_rank()));
    return torch::Device(device);
  }
  throw std::invalid_argument("unknown device '" + device + "' (valid: cpu, cuda, cuda:N)");
}

}  // namespace hiscmcl
