// Image side of HisCMCL: per-level image features -> one embedding per spot.
//  hierarchical (default; METHOD.md §6.2, §9.28): the spot's feature is the query of two
//    cross-attentions, one over neighbourhood tokens (the ~3x neighbourhood crop and the ~9 nearest
//    spots' features), one over global tokens (the ~49 nearest spots' features);
//    f = LN(e + y_neigh + y_glob); ProjectionHead(d_model -> P).
//  multiscale (reference, METHOD.md §6.3): concat per-scale features, optional softmax gate,
//    Dropout(ReLU(LN(Linear(S·D -> D)))), ProjectionHead(D -> P).
//  spot: ProjectionHead on the spot feature alone.
#pragma once
#include <torch/torch.h>

#include <functional>

#include "model/attention.h"
#include "model/projection_head.h"
#include "config/run_config.h"

namespace hiscmcl {

// Spot-level features are passed once as a table with index lists, not gathered per token:
// a spot's tokens are shared by its neighbours, so the branch projects each distinct row once.
struct ImageInputs {
  torch::Tensor table;          // [N, D] spot-level features of every spot indexed below
  // Or, in place of table, a function giving rows of it (features read on demand, streamed).
  std::function<torch::Tensor(const torch::Tensor& rows)> lookup;
  torch::Tensor index;          // [B] rows of table: the spots of the batch
  torch::Tensor neighbourhood;  // [B, D] neighbourhood-crop features (hierarchical; optional)
  torch::Tensor neighbours;     // [B, n] rows of table: nearest spots, self first (hierarchical)
  torch::Tensor global;         // [B, m] rows of table (hierarchical)
  torch::Tensor scales;         // [B, S, D] (multiscale)
  torch::Tensor table_rows(const torch::Tensor& rows) const {
    return table.defined() ? table.index_select(0, rows) : lookup(rows);
  }
};

// Hierarchical fusion's per-row work: each table row's token and the keys and values both
// attentions take from it. Training computes them once for all the micro-batches of an optimiser
// step, which share the weights and most rows (METHOD.md §7.2), instead of once per micro-batch.
struct TokenProjections {
  torch::Tensor rows;                   // [U] sorted distinct table rows
  torch::Tensor token, k_neigh, v_neigh, k_glob, v_glob;  // [U, d]
  bool defined() const { return rows.defined(); }
  std::vector<torch::Tensor> tensors() const { return {token, k_neigh, v_neigh, k_glob, v_glob}; }
  // The same values as leaves of a new graph, to collect the gradients of several batches.
  TokenProjections detached_leaves() const {
    auto leaf = [](const torch::Tensor& x) { return x.detach().requires_grad_(true); };
    return {rows, leaf(token), leaf(k_neigh), leaf(v_neigh), leaf(k_glob), leaf(v_glob)};
  }
};

// Every table row a hierarchical batch touches: the spots, their neighbours and global tokens.
torch::Tensor token_rows(const ImageInputs& in);

class ImageBranchImpl : public torch::nn::Module {
 public:
  ImageBranchImpl(int64_t feature_dim, int64_t n_scales, const ModelConfig& cfg);
  // proj (hierarchical, optional): projections of a superset of token_rows(in); else computed here.
  torch::Tensor forward(const ImageInputs& in, const TokenProjections& proj = {});  // [B, P]
  // The fused feature before the projection head (hierarchical/multiscale), for inspection.
  torch::Tensor fuse(const ImageInputs& in, const TokenProjections& proj = {});
  // features: the table's rows `rows` ([U, D], e.g. in.table_rows(rows)).
  TokenProjections project_tokens(const torch::Tensor& features, const torch::Tensor& rows);
  // Whether the projections may be shared between batches: no input dropout (its mask is per batch).
  bool shares_token_projections() const { return mode_ == Fusion::hierarchical && !has_input_dropout_; }

 private:
  Fusion mode_;
  bool gate_on_ = false;
  bool has_input_dropout_ = false;
  torch::nn::Dropout input_dropout_{nullptr};
  // hierarchical
  torch::nn::Linear token_proj_{nullptr};
  torch::nn::LayerNorm token_norm_{nullptr}, fused_norm_{nullptr};
  CrossAttention neigh_attn_{nullptr}, global_attn_{nullptr};
  // multiscale
  torch::nn::Linear gate_{nullptr}, fusion_linear_{nullptr};
  torch::nn::LayerNorm fusion_norm_{nullptr};
  torch::nn::Dropout fusion_dropout_{nullptr};
  ProjectionHead head_{nullptr};
};
TORCH_MODULE(ImageBranch);

}  // namespace hiscmcl
