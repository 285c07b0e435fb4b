#include "train/end_to_end.h"

#include "dist/process_group.h"

#include "train/epoch_loop.h"

#include <opencv2/imgproc.hpp>

#include <chrono>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/seed_mix.h"
#include "common/thread_pool.h"
#include "data/augment.h"
#include "data/patches.h"
#include "encoders/cnn.h"
#include "encoders/image_tensor.h"
#include "encoders/section_features.h"
#include "io/slide_image.h"

namespace hiscmcl {
namespace {

// The levels the fusion reads from the trunk, and for each the crop it is cut from.
struct TrunkLevel {
  std::string name;
  int crop = 0;          // index into the cut crops
  double upsample = 0;   // > 0: the (augmented) crop resized to upsample x input
};

std::vector<TrunkLevel> trunk_levels(const RunConfig& cfg, std::vector<FeatureLevel>& cut) {
  std::vector<std::string> wanted;
  if (cfg.model.fusion == Fusion::hierarchical) wanted = {"spot", "neighbourhood"};
  else if (cfg.model.fusion == Fusion::multiscale) wanted = multiscale_levels(cfg.encoder);
  else wanted = {"spot"};
  auto all = feature_levels(cfg.encoder);
  cut.clear();
  std::vector<TrunkLevel> out;
  for (auto& name : wanted)
    for (auto& l : all)
      if (l.name == name) {
        TrunkLevel t{name, 0, l.upsample};
        if (l.upsample <= 0) {
          t.crop = int(cut.size());
          cut.push_back(l);
        }
        out.push_back(t);
      }
  // Upsampled levels resize the spot crop, which is always cut first.
  return out;
}

// Every training spot's crops, [level][spot], at the encoder input size.
std::vector<std::vector<cv::Mat>> cut_crops(const std::vector<const PreparedSection*>& sections,
                                            const std::vector<FeatureLevel>& levels, int out_px) {
  std::vector<std::vector<cv::Mat>> crops(levels.size());
  PatchOptions opt;
  opt.scales.clear();
  for (auto& l : levels) opt.scales.push_back(CropScale{l.fov_spot_diameters, l.fixed_px});
  opt.out_px = out_px;
  for (auto* s : sections)
    append_section_patches(s->image.image_path, s->pixel_xy, s->image.spot_diameter_px, opt, crops);
  return crops;
}

class CropFeeder {
 public:
  CropFeeder(std::vector<std::vector<cv::Mat>> crops, std::vector<TrunkLevel> levels, int input_px,
             ImageNormalization norm, torch::Device device)
      : crops_(std::move(crops)), levels_(std::move(levels)), input_px_(input_px), norm_(norm),
        device_(device) {}

  // Input tensors per level for the spots idx; augmented with one draw per spot when seed != 0.
  // first_only: the first level alone (the spot level, for the token bank).
  std::vector<torch::Tensor> batch(const std::vector<int64_t>& idx, bool augment, uint64_t seed,
                                   bool first_only = false) const {
    const size_t b = idx.size();
    std::vector<std::vector<cv::Mat>> cut(crops_.size(), std::vector<cv::Mat>(b));
    parallel_for(int64_t(b), [&](int64_t i) {
      std::mt19937_64 rng(mix_seed(seed, uint64_t(idx[size_t(i)])));
      AugmentParams p = draw_augment(rng);
      for (size_t c = 0; c < crops_.size(); ++c) {
        const cv::Mat& src = crops_[c][size_t(idx[size_t(i)])];
        cut[c][size_t(i)] = augment ? apply_augment(src, p) : src;
      }
    });
    std::vector<torch::Tensor> out;
    for (auto& l : levels_) {
      if (first_only && !out.empty()) break;
      const auto& src = cut[size_t(l.crop)];
      if (l.upsample > 0) {
        const int side = int(std::lround(l.upsample * input_px_));
        std::vector<cv::Mat> up(b);
        for (size_t i = 0; i < b; ++i) cv::resize(src[i], up[i], cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
        out.push_back(crops_to_tensor(up, side, norm_).to(device_));
      } else {
        out.push_back(crops_to_tensor(src, input_px_, norm_).to(device_));
      }
    }
    return out;
  }
  const std::vector<TrunkLevel>& levels() const { return levels_; }
  int64_t size() const { return int64_t(crops_.front().size()); }

 private:
  std::vector<std::vector<cv::Mat>> crops_;
  std::vector<TrunkLevel> levels_;
  int input_px_;
  ImageNormalization norm_;
  torch::Device device_;
};

// Spot-level trunk features of every training spot, eval mode, no gradients: the token bank.
torch::Tensor token_bank(CnnTrunk& trunk, const CropFeeder& feeder, int batch_size) {
  torch::NoGradGuard no_grad;
  trunk->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < feeder.size(); i += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t j = i; j < std::min(feeder.size(), i + batch_size); ++j) idx.push_back(j);
    parts.push_back(trunk->forward(feeder.batch(idx, false, 0, true).front()));
  }
  trunk->train();
  return torch::cat(parts, 0);
}

void to_device(FeatureTensors& t, const torch::Device& d) {
  for (auto* x : {&t.neighbours, &t.global, &t.context, &t.expression, &t.xy})
    if (x->defined()) *x = x->to(d);
}

}  // namespace

TrainResult train_end_to_end(const std::vector<const PreparedSection*>& sections, const RunConfig& cfg) {
  validate(cfg, "run config");  // a config built in code is held to the same rules as a file
  if (dist::active())
    throw InputError("train.mode", "end_to_end training does not run data-parallel yet: launch one process "
                                   "(frozen training, embed and cv do spread over ranks)");
  const std::string& arch = cfg.encoder.name;
  if (!is_cnn_trunk_name(arch))
    throw InputError("encoder.name", "train.mode = \"end_to_end\" trains a built-in CNN trunk "
                                     "(" + cnn_trunk_name_list() + "), not '" + arch + "'");
  const torch::Device device = encoder_device(cfg.encoder.device);
  torch::manual_seed(cfg.train.seed);
  TrainResult result;
  ModelBundle& b = result.bundle;
  init_bundle(b, sections, cfg);

  b.trunk = make_cnn_trunk(arch);
  if (!cfg.encoder.weights.empty()) load_cnn_weights(*b.trunk, cfg.encoder.weights);
  else spdlog::warn("end-to-end: no encoder.weights, the {} trunk starts from seeded random weights", arch);
  const int64_t dim = b.trunk->dim();

  FeatureTensors t = build_feature_tensors(sections, {}, FeatureStats{}, cfg, true);
  if (cfg.train.permute_pairs) permute_pairs(t, cfg.train.seed);
  set_model_shape(b, t, dim);
  std::vector<std::string> stat_levels;
  for (auto& l : feature_levels(cfg.encoder)) stat_levels.push_back(l.name);
  b.stats = identity_feature_stats(stat_levels, dim);
  b.model = HisCMCLModel(b.shape, cfg);

  std::vector<FeatureLevel> cut;
  std::vector<TrunkLevel> levels = trunk_levels(cfg, cut);
  const int input_px = cnn_trunk_input_px(arch);
  spdlog::info("end-to-end: cutting {} crops per spot for {} spots", cut.size(), t.size());
  CropFeeder feeder(cut_crops(sections, cut, input_px), levels, input_px,
                    normalization_from_name(choice_name(cfg.encoder.img_norm)), device);

  b.trunk->to(device);
  b.model->to(device);
  to_device(t, device);
  std::vector<torch::Tensor> params = b.model->parameters();
  for (auto& p : b.trunk->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(cfg.train.lr).weight_decay(cfg.train.weight_decay));

  const int64_t n = t.size();
  const int64_t bs = std::min<int64_t>(cfg.train.batch_size, n);
  // BatchNorm cannot train on a batch of one spot: a last batch of one is dropped.
  const int64_t batches = (cfg.train.drop_last || n % bs == 1) ? n / bs : (n + bs - 1) / bs;
  if (batches < 1) throw InputError("train.batch_size", "end-to-end training needs at least 2 spots");
  torch::Tensor bank;
  EpochLoopSpec loop{"train (end-to-end)", cfg.train.epochs, cfg.train.accumulation, n, bs, batches};
  loop.begin_epoch = [&](int) {
    if (cfg.model.fusion == Fusion::hierarchical) bank = token_bank(b.trunk, feeder, std::max(2, cfg.encoder.batch_size));
    b.model->train();
    b.trunk->train();
  };
  loop.temperature = [&] { return b.model->temperature(); };
  // The crops are pixels (always finite); the expression is the input that can be broken.
  loop.inputs_finite = [&] { return !t.expression.defined() || torch::isfinite(t.expression).all().item<bool>(); };
  loop.batch_loss = [&](const torch::Tensor& idx_cpu, int epoch) {
    std::vector<int64_t> idx_v(idx_cpu.data_ptr<int64_t>(), idx_cpu.data_ptr<int64_t>() + idx_cpu.numel());
    auto idx = idx_cpu.to(device);
    auto inputs = feeder.batch(idx_v, cfg.train.augment, mix_seed(cfg.train.seed + 1, uint64_t(epoch)));
    std::vector<torch::Tensor> feats;
    for (auto& x : inputs) feats.push_back(b.trunk->forward(x));
    ImageInputs in;
    if (cfg.model.fusion == Fusion::hierarchical) {
      in.table = bank.index_put({idx}, feats[0]);
      in.index = idx;
      in.neighbourhood = feats[1];
      in.neighbours = t.neighbours.index_select(0, idx);
      in.global = t.global.index_select(0, idx);
    } else if (cfg.model.fusion == Fusion::multiscale) {
      in.scales = torch::stack(feats, 1);
    } else {
      in.table = feats[0];
      in.index = torch::arange(idx.size(0), torch::TensorOptions().dtype(torch::kInt64).device(device));
    }
    auto img = b.model->image_embedding(in);
    auto spot = spot_forward(b.model, t, idx, cfg);
    return b.model->training_loss(spot, img, t.expression.index_select(0, idx));
  };
  auto t_start = std::chrono::steady_clock::now();
  result.log = run_epoch_loop(opt, loop);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // The bundle lives on the CPU; keys come from the spot branch, which needs no images.
  b.trunk->to(torch::kCPU);
  b.trunk->eval();
  b.model->to(torch::kCPU);
  to_device(t, torch::kCPU);
  set_retrieval_keys(b, t, sections);
  return result;
}

std::unique_ptr<Encoder> bundle_encoder(const ModelBundle& b) {
  if (!b.trunk) return make_encoder(b.config.encoder.name, encoder_options(b.config.encoder, b.config.train.seed));
  // A copy, so that laying it out for inference leaves the bundle's trunk as trained.
  CnnTrunk copy = make_cnn_trunk(b.config.encoder.name);
  {
    torch::NoGradGuard no_grad;
    auto src = b.trunk->named_parameters(true);
    for (auto& p : copy->named_parameters(true)) p.value().copy_(src[p.key()]);
    auto srcb = b.trunk->named_buffers(true);
    for (auto& p : copy->named_buffers(true)) p.value().copy_(srcb[p.key()]);
  }
  return make_trunk_encoder(b.config.encoder.name, copy, encoder_options(b.config.encoder, b.config.train.seed));
}

}  // namespace hiscmcl
