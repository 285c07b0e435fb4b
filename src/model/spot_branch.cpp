#include "model/spot_branch.h"

namespace hiscmcl {

SpotBranchImpl::SpotBranchImpl(int64_t n_genes, int64_t max_x, int64_t max_y, const ModelConfig& cfg)
    : use_position_(cfg.position_embedding), max_x_(max_x), max_y_(max_y) {
  if (use_position_) {
    // torch::nn::Embedding initialises N(0, 1), as the reference.
    ex_ = register_module("x_embed", torch::nn::Embedding(max_x + 1, n_genes));
    ey_ = register_module("y_embed", torch::nn::Embedding(max_y + 1, n_genes));
  }
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.spot_layers; ++i)
    blocks_->push_back(SpotTransformerBlock(n_genes, cfg.spot_heads, cfg.spot_head_dim, cfg.spot_dropout));
  head_ = register_module("head", ProjectionHead(n_genes, cfg.proj_dim));
}

torch::Tensor SpotBranchImpl::forward(const torch::Tensor& expr, const torch::Tensor& xy,
                                     const SequenceGather& gather) {
  auto u = expr;
  if (use_position_) {
    auto x = xy.select(-1, 0).clamp(0, max_x_), y = xy.select(-1, 1).clamp(0, max_y_);
    u = u + ex_(x) + ey_(y);
  }
  for (auto& block : *blocks_) u = block->as<SpotTransformerBlock>()->forward(u, gather);
  return head_(u);
}

}  // namespace hiscmcl
