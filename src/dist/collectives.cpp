#include "dist/collectives.h"

#include <algorithm>
#include <map>
#include <utility>

#include "dist/c10d_world.h"
#include "dist/launch.h"
#include "dist/process_group.h"

namespace hiscmcl::dist {
namespace {

void finish(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw DistError(explain_failure(what, e.what()));
  }
}

template <class Fn>
c10::intrusive_ptr<c10d::Work> launch(Fn&& fn, const char* what) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw DistError(explain_failure(what, e.what()));
  }
}

// Starts a collective and waits for it.
template <class Fn>
void complete(Fn&& fn, const char* what) {
  finish(launch(std::forward<Fn>(fn), what), what);
}

void all_reduce_sum_(torch::Tensor& t, const char* what) {
  std::vector<torch::Tensor> v{t};
  complete([&] { return c10d_group().allreduce(v); }, what);
}

class GatherRowsFn : public torch::autograd::Function<GatherRowsFn> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local, int64_t total) {
    ctx->saved_data["total"] = total;
    return gather_rows(local.detach(), total);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const int64_t total = ctx->saved_data["total"].toInt();
    torch::Tensor g = grads[0].contiguous().clone();
    all_reduce_sum_(g, "the gathered rows' backward");
    auto [begin, end] = slice_of(total, rank(), world_size());
    return {g.slice(0, begin, end), torch::Tensor()};
  }
};

}  // namespace

void average_gradients(const std::vector<torch::Tensor>& params) {
  if (!active()) return;
  constexpr int64_t kBucket = int64_t(4) << 20;
  std::vector<std::vector<torch::Tensor>> buckets(1);
  int64_t filled = 0;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    if (filled > 0 && filled + p.numel() > kBucket) buckets.emplace_back(), filled = 0;
    buckets.back().push_back(p.grad());
    filled += p.numel();
  }
  std::vector<torch::Tensor> flat;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& b : buckets) {
    if (b.empty()) continue;
    std::vector<torch::Tensor> views;
    for (auto& g : b) views.push_back(g.reshape({-1}));
    flat.push_back(torch::cat(views));
    std::vector<torch::Tensor> one{flat.back()};
    works.push_back(launch([&] { return c10d_group().allreduce(one); }, "the gradient all-reduce"));
  }
  const double inv = 1.0 / world_size();
  size_t k = 0;
  for (auto& b : buckets) {
    if (b.empty()) continue;
    finish(works[k], "the gradient all-reduce");
    torch::NoGradGuard no_grad;
    int64_t at = 0;
    for (auto& g : b) {
      g.copy_(flat[k].slice(0, at, at + g.numel()).view_as(g).mul_(inv));
      at += g.numel();
    }
    ++k;
  }
}

torch::Tensor gather_rows(const torch::Tensor& local, const std::vector<int64_t>& counts) {
  if (!active()) return local;
  const int world = world_size();
  TORCH_CHECK(int(counts.size()) == world && local.size(0) == counts[size_t(rank())], "gather_rows: rank ", rank(),
              " passed ", local.size(0), " rows against its count");
  std::vector<int64_t> shape = local.sizes().vec();
  shape[0] = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  torch::Tensor padded = torch::zeros(shape, local.options());
  padded.slice(0, 0, local.size(0)).copy_(local);
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < world; ++r) out[0].push_back(torch::empty(shape, local.options()));
  std::vector<torch::Tensor> in{padded};
  complete([&] { return c10d_group().allgather(out, in); }, "gathering rows");
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world; ++r) parts.push_back(out[0][size_t(r)].slice(0, 0, counts[size_t(r)]));
  return torch::cat(parts, 0);
}

torch::Tensor gather_rows(const torch::Tensor& local, int64_t total) {
  if (!active()) return local;
  std::vector<int64_t> counts;
  for (int r = 0; r < world_size(); ++r) {
    auto [b, e] = slice_of(total, r, world_size());
    counts.push_back(e - b);
  }
  return gather_rows(local, counts);
}

torch::Tensor gather_rows_with_grad(const torch::Tensor& local, int64_t total) {
  if (!active()) return local;
  return GatherRowsFn::apply(local, total);
}

void broadcast_from(const std::vector<torch::Tensor>& tensors, int root) {
  if (!active() || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> views;
    for (auto& t : group) views.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(views)};
    c10d::BroadcastOptions opt;
    opt.rootRank = root;
    complete([&] { return c10d_group().broadcast(flat, opt); }, "a broadcast");
    int64_t at = 0;
    for (auto& t : group) {
      t.copy_(flat[0].slice(0, at, at + t.numel()).view_as(t));
      at += t.numel();
    }
  }
}


}  // namespace hiscmcl::dist
