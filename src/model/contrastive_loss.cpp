#include "model/contrastive_loss.h"

namespace hiscmcl {

torch::Tensor contrastive_loss(const torch::Tensor& spot, const torch::Tensor& image,
                               const torch::Tensor& log_inv_temperature,
                               const ContrastiveLossOptions& opt) {
  torch::Tensor s = spot, i = image;
  if (opt.l2_normalize) {
    s = torch::nn::functional::normalize(s, torch::nn::functional::NormalizeFuncOptions().dim(1));
    i = torch::nn::functional::normalize(i, torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
  auto logits = torch::matmul(s, i.t()) * log_inv_temperature.exp();
  auto target = torch::arange(logits.size(0), torch::TensorOptions().dtype(torch::kLong).device(logits.device()));
  auto loss_spot = torch::nn::functional::cross_entropy(logits, target);
  auto loss_img = torch::nn::functional::cross_entropy(logits.t(), target);
  return 0.5 * (loss_spot + loss_img);
}

}  // namespace hiscmcl
