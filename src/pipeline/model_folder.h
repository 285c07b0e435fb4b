// The one writer of a model folder, for `train` and each cv fold alike: model.json, model.pt,
// tensors.pt (and each ensemble member's), the stacked predictor's ridge.h5, the ivf index
// keys.ivf, train_log.csv, the `train` output marker, anything `extra` adds (cv's stage record),
// and last checksums.txt over all of it, which `predict` verifies. Writes into `dir`, a temporary
// folder its caller then commits (common/output_folder.h, common/atomic_output.h).
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "predict/stacked_ridge.h"
#include "train/trainer.h"

namespace hiscmcl {

void write_model_folder(const std::filesystem::path& dir, ModelBundle& bundle, const std::optional<StackedRidge>& ridge,
                        const std::vector<EpochLog>& log,
                        const std::function<void(const std::filesystem::path&)>& extra = {});

}  // namespace hiscmcl
