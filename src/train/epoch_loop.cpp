#include "train/epoch_loop.h"

#include <chrono>
#include <cmath>
#include <optional>

#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"

namespace hiscmcl {
namespace {

bool all_finite(const torch::Tensor& t) { return !t.defined() || torch::isfinite(t).all().item<bool>(); }

// What most likely made the loss non-finite, in the order the causes are told apart.
std::string non_finite_cause(torch::optim::Optimizer& opt, const EpochLoopSpec& s, bool stepped) {
  if (s.inputs_finite && !s.inputs_finite())
    return "the training inputs hold non-finite values (image features or expression): re-embed the "
           "features (delete the section's feature cache) and check the prepared store";
  const double lr = opt.param_groups().empty() ? 0 : opt.param_groups()[0].options().get_lr();
  bool weights_finite = true;
  for (const auto& group : opt.param_groups())
    for (const auto& p : group.params()) weights_finite = weights_finite && all_finite(p);
  const std::string temperature = s.temperature ? fmt::format(", temperature {:.4g}", s.temperature()) : "";
  if (stepped)
    return fmt::format("the weights {} under the optimiser steps so far: train.lr = {:.4g} is likely too large (try "
                       "a tenth of it){}",
                       weights_finite ? "diverged" : "became non-finite", lr, temperature);
  return fmt::format("at the first batch, before any optimiser step: the model's {}initial weights or settings "
                     "(train.lr = {:.4g}{}) give a non-finite loss",
                     weights_finite ? "" : "non-finite ", lr, temperature);
}

}  // namespace

std::vector<EpochLog> run_epoch_loop(torch::optim::Optimizer& opt, const EpochLoopSpec& s,
                                     ProgressBar* shared_bar) {
  std::vector<EpochLog> log;
  std::optional<ProgressBar> own_bar;
  if (!shared_bar) own_bar.emplace(s.label, int64_t(s.epochs) * s.batches, "batch");
  ProgressBar& bar = shared_bar ? *shared_bar : *own_bar;
  bool stepped = false;  // any optimiser step taken yet (a NaN before one is not the lr's doing)
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (s.begin_epoch) s.begin_epoch(epoch);
    auto perm = s.shuffle ? torch::randperm(s.n, *s.shuffle, torch::kInt64) : torch::randperm(s.n, torch::kInt64);
    auto rows = [&](int64_t bi) {
      return perm.slice(0, bi * s.batch_size, std::min(s.n, (bi + 1) * s.batch_size));
    };
    double loss_sum = 0;
    int64_t spots = 0;
    opt.zero_grad();
    for (int64_t step = 0; step < s.batches; step += s.accumulation) {
      const int64_t step_end = std::min(s.batches, step + s.accumulation);
      if (s.begin_step) {
        std::vector<torch::Tensor> step_rows;
        for (int64_t bi = step; bi < step_end; ++bi) step_rows.push_back(rows(bi));
        s.begin_step(step_rows);
      }
      for (int64_t bi = step; bi < step_end; ++bi) {
        auto idx = rows(bi);
        torch::Tensor loss = s.batch_loss(idx, epoch);
        const double value = loss.item<double>();
        if (!std::isfinite(value))
          throw InputError(s.label, fmt::format("the loss is {} (not finite); {}", value, non_finite_cause(opt, s, stepped)),
                           fmt::format("epoch {} of {}, batch {} of {}", epoch, s.epochs, bi + 1, s.batches));
        (loss / s.accumulation).backward();
        loss_sum += value * double(idx.size(0));
        spots += idx.size(0);
        bar.advance();
      }
      if (s.end_step) s.end_step();
      if (s.sync_gradients) s.sync_gradients();
      opt.step();
      opt.zero_grad();
      stepped = true;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EpochLog e{epoch, loss_sum / double(std::max<int64_t>(1, spots)), secs, double(spots) / std::max(secs, 1e-9),
               s.temperature ? s.temperature() : 1.0};
    if (!shared_bar) bar.set_suffix(fmt::format(e.spots_per_s >= 10 ? " loss {:.4g} {:.0f} spots/s" : " loss {:.4g} {:.2f} spots/s",
                               e.loss, e.spots_per_s));
    spdlog::debug("epoch {} loss {:.5f} ({:.2f}s)", epoch, e.loss, secs);
    log.push_back(e);
  }
  if (own_bar) own_bar->finish();
  return log;
}

}  // namespace hiscmcl
