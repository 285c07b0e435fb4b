#include "model/attention.h"

#include <cmath>

namespace hiscmcl {
namespace {
// [N, L, H*d] -> [N, H, L, d]
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  auto n = x.size(0), l = x.size(1);
  return x.view({n, l, heads, -1}).transpose(1, 2);
}
torch::Tensor merge_heads(const torch::Tensor& x) {
  auto n = x.size(0), l = x.size(2);
  return x.transpose(1, 2).contiguous().view({n, l, -1});
}
}  // namespace

SpotSelfAttentionImpl::SpotSelfAttentionImpl(int64_t dim, int64_t heads, int64_t head_dim,
                                             double dropout)
    : heads_(heads), head_dim_(head_dim) {
  qkv_ = register_module("to_qkv",
                         torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * heads * head_dim).bias(false)));
  out_ = register_module("to_out", torch::nn::Linear(heads * head_dim, dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

torch::Tensor SpotSelfAttentionImpl::forward(const torch::Tensor& x, const SequenceGather& gather) {
  auto qkv = qkv_(x).chunk(3, -1);
  if (gather) {  // keys and values of every piece; queries stay this piece's
    auto kv = gather(torch::cat({qkv[1], qkv[2]}, -1)).chunk(2, -1);
    qkv[1] = kv[0], qkv[2] = kv[1];
  }
  auto q = split_heads(qkv[0], heads_), k = split_heads(qkv[1], heads_), v = split_heads(qkv[2], heads_);
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim_)), -1);
  return dropout_(out_(merge_heads(torch::matmul(attn, v))));
}

SpotTransformerBlockImpl::SpotTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim,
                                                   double dropout) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn_ = register_module("attn", SpotSelfAttention(dim, heads, head_dim, dropout));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ff1_ = register_module("ff1", torch::nn::Linear(dim, dim));
  ff2_ = register_module("ff2", torch::nn::Linear(dim, dim));
  drop1_ = register_module("drop1", torch::nn::Dropout(dropout));
  drop2_ = register_module("drop2", torch::nn::Dropout(dropout));
}

torch::Tensor SpotTransformerBlockImpl::forward(torch::Tensor x, const SequenceGather& gather) {
  x = x + attn_(norm1_(x), gather);
  x = x + drop2_(ff2_(drop1_(torch::gelu(ff1_(norm2_(x))))));
  return x;
}

CrossAttentionImpl::CrossAttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  q_ = register_module("q_proj", torch::nn::Linear(dim, dim));
  k_ = register_module("k_proj", torch::nn::Linear(dim, dim));
  v_ = register_module("v_proj", torch::nn::Linear(dim, dim));
  out_ = register_module("out_proj", torch::nn::Linear(dim, dim));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& context) {
  return attend(q_(query), k_(context), v_(context));
}

torch::Tensor CrossAttentionImpl::attend(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                         const torch::Tensor& v_in) {
  auto q = split_heads(q_in, heads_), k = split_heads(k_in, heads_), v = split_heads(v_in, heads_);
  double scale = 1.0 / std::sqrt(double(q.size(-1)));
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1);
  return out_(merge_heads(torch::matmul(attn, v)));
}

}  // namespace hiscmcl
