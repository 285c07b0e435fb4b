// The one training loop both trainers run: epochs of shuffled mini-batches, each batch's loss
// back-propagated divided by the accumulation, an optimiser step after every accumulation group and
// after the epoch's last micro-batch (METHOD.md §7.2), a progress bar and one log line per epoch.
// The trainers differ only in what an epoch sets up and how a batch's loss is computed. An optional
// step hook sees all the micro-batches of an optimiser step first (to compute what they share) and
// runs again after their last backward, before the step.
// A non-finite loss stops the loop at once with an InputError naming the epoch and batch and the
// likely cause (non-finite inputs, weights diverged under too large a train.lr, ...): training on
// would only turn every weight into NaN, and predict would write NaN everywhere.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/progress.h"
#include "train/trainer.h"

namespace hiscmcl {

struct EpochLoopSpec {
  std::string label;        // progress bar: "train", "train (end-to-end)"
  int epochs = 1;
  int accumulation = 1;
  int64_t n = 0;            // training rows; each epoch shuffles 0..n-1
  int64_t batch_size = 1;
  int64_t batches = 0;      // per epoch (the caller decides about a short last batch)
  std::function<void(int epoch)> begin_epoch;                                // before the shuffle
  std::function<torch::Tensor(const torch::Tensor& idx, int epoch)> batch_loss;  // idx: CPU int64 rows
  std::function<double()> temperature;                                       // for the log
  std::function<void(const std::vector<torch::Tensor>& step_rows)> begin_step;  // optional
  std::function<void()> end_step;                                            // optional
  std::function<void()> sync_gradients;  // optional: after end_step, before the step (all-reduce)
  std::optional<at::Generator> shuffle;  // the epochs' shuffles; none: LibTorch's global generator
  // Optional, asked only once the loss is non-finite: whether the training inputs (features,
  // expression) are all finite, so that the error can tell bad inputs from diverged weights.
  std::function<bool()> inputs_finite;
};

// bar: advanced once per micro-batch; none: the loop draws its own.
std::vector<EpochLog> run_epoch_loop(torch::optim::Optimizer& opt, const EpochLoopSpec& spec,
                                     ProgressBar* bar = nullptr);

}  // namespace hiscmcl
