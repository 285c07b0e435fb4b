// Built-in CNN trunks in LibTorch: ResNet-18, ResNet-50, DenseNet-121 (METHOD.md §5.3), and
// small_cnn, a 0.3 M-parameter trunk for `hiscmcl pretrain` on a CPU (METHOD.md §5.3a).
// Parameter and buffer names are IDENTICAL to torchvision's state_dict keys (conv1, bn1,
// layer1.0.conv1 ...; features.conv0, features.denseblock1.denselayer1.norm1 ...) minus the
// classifier (fc.* / classifier.*), so weights converted by scripts/convert_torchvision.py load by
// name. forward(x: [B,3,H,W] float, normalised) -> [B,C] global-average-pooled features
// (512 / 2048 / 1024). DenseNet omits torchvision's ReLU after norm5 (reference quirk,
// METHOD.md §9.8).
// Works on plain, channels-last and mkldnn (oneDNN) input tensors: see CpuLayout.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "encoders/encoder.h"

namespace hiscmcl {

// Every trunk is a module with a virtual forward, so one holder type serves all three.
struct CnnTrunkImpl : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t dim() const = 0;
};
TORCH_MODULE(CnnTrunk);

// The trunk names make_cnn_trunk accepts.
const std::vector<std::string>& cnn_trunk_names();
bool is_cnn_trunk_name(const std::string& name);
// "resnet18, resnet50, densenet121, small_cnn": for messages.
std::string cnn_trunk_name_list();
// name: resnet18 | resnet50 | densenet121 | small_cnn (std::invalid_argument otherwise). Random init as
// torchvision (kaiming-normal convs, BN weight 1 / bias 0); seed with torch::manual_seed first.
CnnTrunk make_cnn_trunk(const std::string& name);
int64_t cnn_trunk_dim(const std::string& name);
// The crop side a trunk is fed: 224 (the torchvision trunks), 64 (small_cnn).
int cnn_trunk_input_px(const std::string& name);

// Weight files: the torch.save / torch::pickle_save zip format holding a plain dict
// {name: tensor} of every parameter and buffer (what scripts/convert_torchvision.py writes).
// Throws InputError naming the file and the first missing, unexpected or mis-shaped key.
void load_cnn_weights(torch::nn::Module& module, const std::string& path);
void save_cnn_weights(const torch::nn::Module& module, const std::string& path);

// How CPU inference lays out activations. mkldnn: oneDNN's blocked tensors end to end (fastest
// measured here, docs/BENCHMARKS.md "CNN encoders"); channels_last: NHWC dense tensors.
enum class CpuLayout { contiguous, channels_last, mkldnn };
// The layout measured fastest for a trunk on CPU (bench/bench_encoders.cpp): mkldnn for the
// ResNets; channels_last for DenseNet, whose concatenations have no oneDNN kernel in 1.13.
CpuLayout fastest_cpu_layout(const std::string& name);
// Puts the trunk in eval mode and converts its weights once for the layout (channels_last
// re-strides 4-D weights; the others leave them as they are).
void prepare_trunk_for_inference(CnnTrunk& trunk, CpuLayout layout);
// No-grad eval forward of x ([B,3,H,W] dense float on the trunk's device) in that layout;
// returns a dense contiguous [B,C]. Layouts other than contiguous apply to CPU tensors only.
torch::Tensor trunk_inference(CnnTrunk& trunk, const torch::Tensor& x, CpuLayout layout);

// The Encoder interface over an existing trunk (an end-to-end model's trained trunk); opt.weights
// and opt.seed are ignored. The trunk is shared, put in eval mode and laid out for inference.
std::unique_ptr<Encoder> make_trunk_encoder(const std::string& arch, CnnTrunk trunk,
                                            const EncoderOptions& opt);

}  // namespace hiscmcl

namespace hiscmcl {
// "cpu" | "cuda" | "cuda:N" -> torch::Device. Throws std::runtime_error when CUDA is asked for
// but this LibTorch build has no CUDA or sees no GPU; std::invalid_argument on another name.
torch::Device encoder_device(const std::string& device);
}  // namespace hiscmcl
