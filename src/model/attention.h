// Attention building blocks written out (not torch::nn::MultiheadAttention) so the layouts match
// the reference and METHOD.md exactly:
//  - SpotSelfAttention (METHOD.md §6.6): one bias-free Linear to Q,K,V (split in that order),
//    per-head softmax(QKᵀ/√d_h), concat, Linear with bias, dropout. Input [N, L, G]: attention
//    over L.
//  - CrossAttention (METHOD.md §6.2): separate Q/K/V projections with bias, output projection with
//    bias. Query [B, 1, D] over keys/values [B, T, D].
//  - SpotTransformerBlock: pre-norm block Z += Attn(LN(Z)); Z += FF(LN(Z)), FF = G→G GELU G→G.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace hiscmcl {

// Rows of a sequence held in pieces (one piece a process, torch.distributed): [N, l, D] of this
// piece -> [N, L, D] of the whole sequence, differentiable. Empty: the sequence is all here.
using SequenceGather = std::function<torch::Tensor(const torch::Tensor&)>;

class SpotSelfAttentionImpl : public torch::nn::Module {
 public:
  SpotSelfAttentionImpl(int64_t dim, int64_t heads, int64_t head_dim, double dropout);
  // x [N, L, dim]. With gather, x holds this piece's rows: their queries attend over the keys and
  // values of the whole gathered sequence (the same result rows as attending in one piece).
  torch::Tensor forward(const torch::Tensor& x, const SequenceGather& gather = {});

 private:
  int64_t heads_, head_dim_;
  torch::nn::Linear qkv_{nullptr}, out_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(SpotSelfAttention);

class SpotTransformerBlockImpl : public torch::nn::Module {
 public:
  SpotTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim, double dropout);
  torch::Tensor forward(torch::Tensor x, const SequenceGather& gather = {});  // [N, L, dim]

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  SpotSelfAttention attn_{nullptr};
  torch::nn::Linear ff1_{nullptr}, ff2_{nullptr};
  torch::nn::Dropout drop1_{nullptr}, drop2_{nullptr};
};
TORCH_MODULE(SpotTransformerBlock);

class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int64_t dim, int64_t heads);
  // query [B, Q, dim], context [B, T, dim] -> [B, Q, dim]
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& context);
  // The same in steps, so that keys/values of tokens shared by many queries are projected once:
  // attend(q_proj(query), k_proj(context), v_proj(context)) == forward(query, context).
  torch::Tensor q_proj(const torch::Tensor& x) { return q_(x); }
  torch::Tensor k_proj(const torch::Tensor& x) { return k_(x); }
  torch::Tensor v_proj(const torch::Tensor& x) { return v_(x); }
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

 private:
  int64_t heads_;
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, out_{nullptr};
};
TORCH_MODULE(CrossAttention);

}  // namespace hiscmcl
