// Collectives of a distributed run over the joined process group (process_group.h); each is a
// no-op (or the identity) in a single process. Every rank must call them in the same order. A
// failed collective throws DistError naming the rank that stopped.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace hiscmcl::dist {

// The mean over ranks of every defined gradient, in place: flattened into buckets of at most
// 4 Mi values, all buckets all-reduced at once (asynchronously), then unflattened.
void average_gradients(const std::vector<torch::Tensor>& params);

// Rows of a global batch of `total` rows, split by slice_of: each rank passes its slice and gets
// the whole batch, in rank order. The with_grad form is the "gather with grad" of CLIP trainers:
// the backward all-reduces the incoming gradient (every rank computes the same loss from the
// gathered rows) and hands each rank the rows of its own slice.
torch::Tensor gather_rows(const torch::Tensor& local, int64_t total);
// Rank r passes counts[r] rows (any split); every rank gets them all, in rank order. No grad.
torch::Tensor gather_rows(const torch::Tensor& local, const std::vector<int64_t>& counts);
torch::Tensor gather_rows_with_grad(const torch::Tensor& local, int64_t total);

// Overwrites every tensor with root's values (one flat broadcast per dtype; a no-op alone).
void broadcast_from(const std::vector<torch::Tensor>& tensors, int root);

}  // namespace hiscmcl::dist
