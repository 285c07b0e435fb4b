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
}

torch::Tensor HisCMCLModelImpl::loss(const torch::Tensor& spot_emb, const torch::Tensor& image_emb) {
  return contrastive_loss(spot_emb, image_emb, log_inv_temperature_, loss_opt_);
}

}  // namespace hiscmcl
