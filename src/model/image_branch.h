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

#include "model/attention.h"
#include "model/projection_head.h"
#include "config/run_config.h"

namespace hiscmcl {

// Spot-level features are passed once as a table with index lists, not gathered per token:
// a spot's tokens are shared by its neighbours, so the branch projects each distinct row once.
struct ImageInputs {
  torch::Tensor table;          // [N, D] spot-level features of every spot indexed below
  torch::Tensor index;          // [B] rows of table: the spots of the batch
  torch::Tensor neighbourhood;  // [B, D] neighbourhood-crop features (hierarchical; optional)
  torch::Tensor neighbours;     // [B, n] rows of table: nearest spots, self first (hierarchical)
  torch::Tensor global;         // [B, m] rows of table (hierarchical)
  torch::Tensor scales;         // [B, S, D] (multiscale)
};

class ImageBranchImpl : public torch::nn::Module {
 public:
  ImageBranchImpl(int64_t feature_dim, int64_t n_scales, const ModelConfig& cfg);
  torch::Tensor forward(const ImageInputs& in);  // [B, P]
  // The fused feature before the projection head (hierarchical/multiscale), for inspection.
  torch::Tensor fuse(const ImageInputs& in);

 private:
  Fusion mode_;
  bool gate_on_ = false;
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
