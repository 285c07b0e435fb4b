// ProjectionHead (METHOD.md §6.7), used by both branches: p = W1 x + b1; h = W2 GELU(p) + b2;
// h = Dropout(h); out = LayerNorm(h + p).
#pragma once
#include <torch/torch.h>

namespace hiscmcl {

class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in, int64_t out, double dropout = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear proj_{nullptr}, fc_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ProjectionHead);

}  // namespace hiscmcl
