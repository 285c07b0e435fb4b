// End-to-end training (train.mode = "end_to_end"): the CNN trunk named by encoder.name
// (resnet18 | resnet50 | densenet121 | small_cnn, weights from encoder.weights or seeded random init) is
// trained with the fusion, spot branch and heads under the contrastive loss (METHOD.md §7.4).
//  - Crops of every training spot at every level the fusion uses are cut once and kept in memory
//    (uint8, encoder input size: ~150 KB per spot and level at 224 px).
//  - Training only: each epoch every spot's crops get a fresh augmentation (METHOD.md §4.5), one
//    draw per spot shared by its levels, so an upsampled scale is the same picture at more pixels.
//  - hierarchical: neighbour and global tokens come from a bank of every training spot's trunk
//    features, recomputed without gradients at each epoch start; the batch's own rows are
//    replaced by their fresh features, so gradients reach the trunk through each batch spot's
//    crop, its neighbourhood crop and any neighbour that is in the batch.
//  - BatchNorm uses batch statistics while training, running statistics for the bank and after.
//  - Features are not standardised (identity statistics): the trunk learns its own scale.
// Meant for a GPU (encoder.device = "cuda"); on CPU it runs, slowly (tests run one step).
#pragma once
#include <vector>

#include "train/trainer.h"

namespace hiscmcl {

TrainResult train_end_to_end(const std::vector<const PreparedSection*>& sections, const RunConfig& cfg);

// An Encoder over a trained bundle's trunk (end-to-end models), for predict and cv.
std::unique_ptr<Encoder> bundle_encoder(const ModelBundle& b);

}  // namespace hiscmcl
