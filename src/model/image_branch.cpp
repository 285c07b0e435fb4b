#include "model/image_branch.h"

namespace hiscmcl {

ImageBranchImpl::ImageBranchImpl(int64_t feature_dim, int64_t n_scales, const ModelConfig& cfg)
    : mode_(cfg.fusion), gate_on_(cfg.scale_gate), has_input_dropout_(cfg.input_dropout > 0) {
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

torch::Tensor token_rows(const ImageInputs& in) {
  return std::get<0>(at::_unique(torch::cat({in.index, in.neighbours.flatten(), in.global.flatten()}),
                                 /*sorted=*/true));
}

TokenProjections ImageBranchImpl::project_tokens(const torch::Tensor& features, const torch::Tensor& rows) {
  TokenProjections p;
  p.rows = rows;
  p.token = token_norm_(token_proj_(input_dropout_(features)));
  p.k_neigh = neigh_attn_->k_proj(p.token);
  p.v_neigh = neigh_attn_->v_proj(p.token);
  p.k_glob = global_attn_->k_proj(p.token);
  p.v_glob = global_attn_->v_proj(p.token);
  return p;
}

torch::Tensor ImageBranchImpl::fuse(const ImageInputs& in, const TokenProjections& given) {
  if (mode_ == Fusion::hierarchical) {
    // Project only the distinct rows the batch touches (or take them from given), then gather.
    const torch::Tensor rows = given.defined() ? torch::Tensor() : token_rows(in);
    const TokenProjections p = given.defined() ? given : project_tokens(in.table_rows(rows), rows);
    const int64_t b = in.index.size(0), n = in.neighbours.size(1), m = in.global.size(1);
    // Each index set is looked up once and gathered from every projection that needs it.
    auto pos = [&](const torch::Tensor& table_rows) { return torch::searchsorted(p.rows, table_rows.flatten()); };
    const auto pos_n = pos(in.neighbours), pos_g = pos(in.global);
    auto q_tok = p.token.index_select(0, pos(in.index)).unsqueeze(1);  // [B, 1, d]
    auto k1 = p.k_neigh.index_select(0, pos_n).view({b, n, -1}), v1 = p.v_neigh.index_select(0, pos_n).view({b, n, -1});
    if (in.neighbourhood.defined()) {
      auto c = token_norm_(token_proj_(input_dropout_(in.neighbourhood))).unsqueeze(1);
      k1 = torch::cat({neigh_attn_->k_proj(c), k1}, 1);
      v1 = torch::cat({neigh_attn_->v_proj(c), v1}, 1);
    }
    auto y1 = neigh_attn_->attend(neigh_attn_->q_proj(q_tok), k1, v1);
    auto y2 = global_attn_->attend(global_attn_->q_proj(q_tok), p.k_glob.index_select(0, pos_g).view({b, m, -1}),
                                   p.v_glob.index_select(0, pos_g).view({b, m, -1}));
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
  return input_dropout_(in.table_rows(in.index));
}

torch::Tensor ImageBranchImpl::forward(const ImageInputs& in, const TokenProjections& proj) {
  return head_(fuse(in, proj));
}

}  // namespace hiscmcl
