// Self-supervised pretraining of a CNN trunk on H&E spot crops (`hiscmcl pretrain`, METHOD.md §5.3a):
// SimCLR (Chen et al., ICML 2020). No expression is read: only the sections' images and spot
// centres, so a trunk can be pretrained on any slides, including ones without counts.
//  - Every spot's crop is cut once at fov spot diameters, source_px = 1.5 x the trunk's input side.
//  - Each step takes batch_size crops and makes two views of each (make_view): a random square of
//    45-100 % of the side, resized to the input side, a random rotation by a multiple of 90° and a
//    flip (H&E has no up), brightness, contrast and saturation in [0.8, 1.2], and an H&E stain
//    perturbation (perturb_stains). Each view draws from its own generator seeded by (seed, epoch,
//    crop, view): a rerun gives the same weights.
//  - trunk -> projection MLP (dim -> dim -> proj_dim) -> NT-Xent over the 2B views; AdamW with a
//    cosine learning-rate decay; the head is dropped afterwards, the trunk kept (BatchNorm running
//    statistics included) in eval mode.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

#include "encoders/cnn.h"
#include "io/section.h"

namespace hiscmcl {

struct PretrainOptions {
  std::string arch = "small_cnn";  // any built-in trunk (cnn_trunk_names())
  std::string weights;             // "" = seeded random initialisation; else start from this file
  int epochs = 20;
  int batch_size = 128;            // crops per step, two views each; capped at the number of crops
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double temperature = 0.2;
  double fov = 1.5;                // source crop side in spot diameters
  int64_t max_crops = 0;           // 0: every spot; else this many, drawn with the seed
  int proj_dim = 128;
  uint64_t seed = 0;
  std::string device = "cpu";
};

struct PretrainResult {
  CnnTrunk trunk{nullptr};
  std::vector<double> epoch_loss;  // mean NT-Xent per epoch
  int64_t n_crops = 0;
  double seconds = 0;
};

// Throws InputError naming the option when a value is out of range.
void validate(const PretrainOptions& opt);

// NT-Xent (normalised temperature-scaled cross entropy): z1[i] and z2[i] are the two views of one
// crop; each of the 2B rows is classified against the other 2B - 1, its partner the right answer.
// Rows are L2-normalised first. z1, z2: [B, P] with B >= 1. Returns the mean over the 2B rows.
torch::Tensor nt_xent_loss(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

// One augmented view (see above) of a source crop (CV_8UC3, square), out_px x out_px.
cv::Mat make_view(const cv::Mat& source, int out_px, std::mt19937_64& rng);

PretrainResult pretrain_trunk(const std::vector<const PreparedSection*>& sections, const PretrainOptions& opt);

}  // namespace hiscmcl
