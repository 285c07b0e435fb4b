// Symmetric InfoNCE (METHOD.md §7.1): logits = S·Iᵀ/τ; loss = ½(CE over rows + CE over columns)
// with the matching spot/image pairs on the diagonal. Optional L2 normalisation of both sides
// first.
#pragma once
#include <torch/torch.h>

namespace hiscmcl {

struct ContrastiveLossOptions {
  bool l2_normalize = false;
};

// spot, image: [B, P]; log_inv_temperature: scalar tensor log(1/τ) (learned or fixed).
torch::Tensor contrastive_loss(const torch::Tensor& spot, const torch::Tensor& image,
                               const torch::Tensor& log_inv_temperature,
                               const ContrastiveLossOptions& opt = {});

}  // namespace hiscmcl
