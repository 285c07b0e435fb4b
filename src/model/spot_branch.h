// Expression side of HisCMCL (METHOD.md §6.5–6.6): u = expr + E_x[x] + E_y[y] (learnable position
// tables sized to the largest coordinate), pre-norm transformer blocks, ProjectionHead(G -> P).
// The attention sequence is whatever the caller passes as L in [N, L, G]:
//   spot_context = batch:   one sequence of the B spots of the mini-batch, [1, B, G] (reference);
//   spot_context = spatial: each spot with its nearest spots, [B, K, G], self first; the spot's
//                           embedding is token 0, so it does not depend on the batch.
#pragma once
#include <torch/torch.h>

#include "model/attention.h"
#include "model/projection_head.h"
#include "config/run_config.h"

namespace hiscmcl {

class SpotBranchImpl : public torch::nn::Module {
 public:
  SpotBranchImpl(int64_t n_genes, int64_t max_x, int64_t max_y, const ModelConfig& cfg);
  // expr [N, L, G] float; xy [N, L, 2] int64 array coordinates. Returns [N, L, P]. With gather,
  // expr and xy are this process's piece of the sequence (SequenceGather) and so is the result.
  torch::Tensor forward(const torch::Tensor& expr, const torch::Tensor& xy, const SequenceGather& gather = {});

 private:
  bool use_position_;
  int64_t max_x_, max_y_;
  torch::nn::Embedding ex_{nullptr}, ey_{nullptr};
  torch::nn::ModuleList blocks_;
  ProjectionHead head_{nullptr};
};
TORCH_MODULE(SpotBranch);

}  // namespace hiscmcl
