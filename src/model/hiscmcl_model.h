// The HisCMCL model: an image branch and a spot (expression) branch that map a spot to a shared
// P-dimensional space, trained with the symmetric contrastive loss.
#pragma once
#include <torch/torch.h>

#include "model/contrastive_loss.h"
#include "model/image_branch.h"
#include "config/run_config.h"
#include "model/spot_branch.h"

namespace hiscmcl {

// Sizes the model is built with (saved beside the weights).
struct ModelShape {
  int64_t feature_dim = 0;  // image feature size D
  int64_t n_scales = 1;     // multiscale: number of per-scale features
  int64_t n_genes = 0;
  int64_t max_x = 0, max_y = 0;  // largest array coordinate (position tables)
};

class HisCMCLModelImpl : public torch::nn::Module {
 public:
  HisCMCLModelImpl(const ModelShape& shape, const RunConfig& cfg);
  torch::Tensor image_embedding(const ImageInputs& in, const TokenProjections& proj = {}) {
    return image_->forward(in, proj);
  }
  ImageBranch& image_branch() { return image_; }
  // expr [N, L, G], xy [N, L, 2] -> [N, L, P]
  torch::Tensor spot_embedding(const torch::Tensor& expr, const torch::Tensor& xy,
                               const SequenceGather& gather = {}) {
    return spot_->forward(expr, xy, gather);
  }
  torch::Tensor loss(const torch::Tensor& spot_emb, const torch::Tensor& image_emb);
  double temperature() const { return 1.0 / log_inv_temperature_.exp().item<double>(); }
  // model.regression_head: image embedding [B, P] -> expression [B, G] (training normalisation).
  bool has_regression_head() const { return !regression_.is_empty(); }
  torch::Tensor regress(const torch::Tensor& image_emb) { return regression_->forward(image_emb); }
  // The training objective: contrastive loss, plus w * MSE(head, expression) with the head.
  torch::Tensor training_loss(const torch::Tensor& spot_emb, const torch::Tensor& image_emb,
                              const torch::Tensor& expression);

 private:
  ImageBranch image_{nullptr};
  SpotBranch spot_{nullptr};
  torch::Tensor log_inv_temperature_;
  ContrastiveLossOptions loss_opt_;
  torch::nn::Sequential regression_{nullptr};
  double regression_weight_ = 0;
};
TORCH_MODULE(HisCMCLModel);

}  // namespace hiscmcl
