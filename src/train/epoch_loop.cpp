#include "train/epoch_loop.h"

#include <chrono>

#include "common/log.h"
#include "common/progress.h"

namespace hiscmcl {

std::vector<EpochLog> run_epoch_loop(torch::optim::Optimizer& opt, const EpochLoopSpec& s) {
  std::vector<EpochLog> log;
  ProgressBar bar(s.label, int64_t(s.epochs) * s.batches, "batch");
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (s.begin_epoch) s.begin_epoch(epoch);
    auto perm = torch::randperm(s.n, torch::kInt64);
    double loss_sum = 0;
    int64_t spots = 0;
    opt.zero_grad();
    for (int64_t bi = 0; bi < s.batches; ++bi) {
      auto idx = perm.slice(0, bi * s.batch_size, std::min(s.n, (bi + 1) * s.batch_size));
      torch::Tensor loss = s.batch_loss(idx, epoch);
      (loss / s.accumulation).backward();
      if ((bi + 1) % s.accumulation == 0 || bi + 1 == s.batches) {
        opt.step();
        opt.zero_grad();
      }
      loss_sum += loss.item<double>() * double(idx.size(0));
      spots += idx.size(0);
      bar.advance();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EpochLog e{epoch, loss_sum / double(std::max<int64_t>(1, spots)), secs, double(spots) / std::max(secs, 1e-9),
               s.temperature ? s.temperature() : 1.0};
    bar.set_suffix(fmt::format(e.spots_per_s >= 10 ? " loss {:.4g} {:.0f} spots/s" : " loss {:.4g} {:.2f} spots/s",
                               e.loss, e.spots_per_s));
    spdlog::debug("epoch {} loss {:.5f} ({:.2f}s)", epoch, e.loss, secs);
    log.push_back(e);
  }
  bar.finish();
  return log;
}

}  // namespace hiscmcl
