#include "model/image_branch.h"

namespace hiscmcl {

ImageBranchImpl::ImageBranchImpl(int64_t feature_dim, int64_t n_scales, const ModelConfig& cfg)
    : mode_(cfg.fusion), gate_on_(cfg.scale_gate) {
  using namespace torch::nn;
  input_dropout_ = register_module("input_dropout", Dropout(cfg.input_dropout));
  if (mode_ == Fusion::hierarchical) {
    token_proj_ = register_module("token_proj", Linear(feature_dim, cfg.d_model));
    token_norm_ = register_module("token_norm", LayerNorm(LayerNormOptions({cfg.d_model})));
    neigh_attn_ = register_module("neighbourhood_attn", CrossAttention(cfg.d_model, cfg.fusion_heads));
    global_attn_ = register_module("global_attn", CrossAttention(cfg.d_model, cfg.fusion_heads));
    fused_norm_ = register_module("fused_norm", LayerNorm(LayerNormOptions({cfg.d_model})));
    head_ = register_module("head", ProjectionHead(cfg.d_model, cfg.proj_dim));
  } else if (mode_ == Fusion::multiscale) {
    if (gate_on_) gate_ = register_module("scale_gate", Linear(n_scales * feature_dim, n_scales));
    fusion_linear_ = register_module("fusion", Linear(n_scales * feature_dim, feature_dim));
    fusion_norm_ = register_module("fusion_norm", LayerNorm(LayerNormOptions({feature_dim})));
    fusion_dropout_ = register_module("fusion_dropout", Dropout(cfg.fusion_dropout));
    head_ = register_module("head", ProjectionHead(feature_dim, cfg.proj_dim));
  } else {
    head_ = register_module("head", ProjectionHead(feature_dim, cfg.proj_dim));
  }
}

torch::Tensor ImageBranchImpl::fuse(const ImageInputs& in) {
  if (mode_ == Fusion::hierarchical) {
    auto tokens = [&](const torch::Tensor& x) { return token_norm_(token_proj_(input_dropout_(x))); };
    // Project only the distinct rows the batch touches, then gather.
    auto all = torch::cat({in.index, in.neighbours.flatten(), in.global.flatten()});
    auto [rows, inverse] = at::_unique(all, /*sorted=*/true, /*return_inverse=*/true);
    const int64_t b = in.index.size(0), n = in.neighbours.size(1), m = in.global.size(1);
    auto inv_q = inverse.slice(0, 0, b);
    auto inv_n = inverse.slice(0, b, b + b * n);
    auto inv_g = inverse.slice(0, b + b * n);
    auto t = tokens(in.table.index_select(0, rows));  // [U, d]
    auto q_tok = t.index_select(0, inv_q).unsqueeze(1);  // [B, 1, d]
    auto gather = [&](const torch::Tensor& x, const torch::Tensor& inv, int64_t k) {
      return x.index_select(0, inv).view({b, k, -1});
    };
    auto k1 = gather(neigh_attn_->k_proj(t), inv_n, n), v1 = gather(neigh_attn_->v_proj(t), inv_n, n);
    if (in.neighbourhood.defined()) {
      auto c = tokens(in.neighbourhood).unsqueeze(1);
      k1 = torch::cat({neigh_attn_->k_proj(c), k1}, 1);
      v1 = torch::cat({neigh_attn_->v_proj(c), v1}, 1);
    }
    auto y1 = neigh_attn_->attend(neigh_attn_->q_proj(q_tok), k1, v1);
    auto y2 = global_attn_->attend(global_attn_->q_proj(q_tok), gather(global_attn_->k_proj(t), inv_g, m),
                                   gather(global_attn_->v_proj(t), inv_g, m));
    return fused_norm_(q_tok + y1 + y2).squeeze(1);
  }
  if (mode_ == Fusion::multiscale) {
    auto f = input_dropout_(in.scales);  // [B, S, D]
    auto c = f.flatten(1);
    if (gate_on_) {
      auto w = torch::softmax(gate_(c), -1);  // [B, S]
      c = (f * w.unsqueeze(-1)).flatten(1);
    }
    return fusion_dropout_(torch::relu(fusion_norm_(fusion_linear_(c))));
  }
  return input_dropout_(in.table.index_select(0, in.index));
}

torch::Tensor ImageBranchImpl::forward(const ImageInputs& in) { return head_(fuse(in)); }

}  // namespace hiscmcl
