#include "model/projection_head.h"

namespace hiscmcl {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in, int64_t out, double dropout) {
  proj_ = register_module("projection", torch::nn::Linear(in, out));
  fc_ = register_module("fc", torch::nn::Linear(out, out));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  norm_ = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out})));
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& x) {
  auto p = proj_(x);
  auto h = dropout_(fc_(torch::gelu(p)));
  return norm_(h + p);
}

}  // namespace hiscmcl
