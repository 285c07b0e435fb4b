#include "model/hiscmcl_model.h"

#include <cmath>

namespace hiscmcl {

HisCMCLModelImpl::HisCMCLModelImpl(const ModelShape& shape, const RunConfig& cfg) {
  image_ = register_module("image", ImageBranch(shape.feature_dim, shape.n_scales, cfg.model));
  spot_ = register_module("spot", SpotBranch(shape.n_genes, shape.max_x, shape.max_y, cfg.model));
  auto init = torch::full({}, std::log(1.0 / cfg.loss.temperature));
  if (cfg.loss.learn_temperature)
    log_inv_temperature_ = register_parameter("log_inv_temperature", init);
  else
    log_inv_temperature_ = register_buffer("log_inv_temperature", init);
  loss_opt_.l2_normalize = cfg.loss.l2_normalize;
  if (cfg.model.regression_head) {
    using namespace torch::nn;
    regression_ = register_module(
        "regression", Sequential(Linear(cfg.model.proj_dim, cfg.model.proj_dim), GELU(),
                                 Linear(cfg.model.proj_dim, shape.n_genes)));
    regression_weight_ = cfg.loss.regression_weight;
  }
}

torch::Tensor HisCMCLModelImpl::training_loss(const torch::Tensor& spot_emb, const torch::Tensor& image_emb,
                                              const torch::Tensor& expression) {
  auto l = loss(spot_emb, image_emb);
  if (has_regression_head() && regression_weight_ > 0)
    l = l + regression_weight_ * torch::mse_loss(regress(image_emb), expression);
  return l;
}

torch::Tensor HisCMCLModelImpl::loss(const torch::Tensor& spot_emb, const torch::Tensor& image_emb) {
  return contrastive_loss(spot_emb, image_emb, log_inv_temperature_, loss_opt_);
}

}  // namespace hiscmcl
