#include "train/pretrain.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/seed_mix.h"
#include "common/thread_pool.h"
#include "data/augment.h"
#include "data/patches.h"
#include "encoders/image_tensor.h"
#include "encoders/stain.h"

namespace hiscmcl {
namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

struct ProjectionHeadMlpImpl : torch::nn::Module {
  ProjectionHeadMlpImpl(int64_t dim, int64_t out) {
    fc1 = register_module("fc1", torch::nn::Linear(dim, dim));
    fc2 = register_module("fc2", torch::nn::Linear(dim, out));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::relu(fc1(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ProjectionHeadMlp);

// The spots pretraining reads: every spot, or max_crops of them drawn with the seed.
std::vector<std::pair<size_t, int64_t>> chosen_spots(const std::vector<const PreparedSection*>& sections,
                                                     const PretrainOptions& opt) {
  std::vector<std::pair<size_t, int64_t>> all;
  for (size_t s = 0; s < sections.size(); ++s)
    for (int64_t i = 0; i < sections[s]->n_spots(); ++i) all.emplace_back(s, i);
  if (opt.max_crops > 0 && int64_t(all.size()) > opt.max_crops) {
    std::mt19937_64 rng(mix_seed(opt.seed, 0x5107));
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(size_t(opt.max_crops));
    std::sort(all.begin(), all.end());  // read each image once, in order
  }
  return all;
}

std::vector<cv::Mat> cut_sources(const std::vector<const PreparedSection*>& sections,
                                 const std::vector<std::pair<size_t, int64_t>>& spots, double fov, int source_px) {
  std::vector<std::vector<cv::Mat>> crops(1);  // one scale
  PatchOptions po;
  po.scales = {CropScale{fov, 0}};
  po.out_px = source_px;
  for (size_t s = 0; s < sections.size(); ++s) {
    std::vector<Centre> centres;
    for (const auto& [sec, i] : spots)
      if (sec == s) centres.push_back(sections[s]->pixel_xy[size_t(i)]);
    if (!centres.empty())
      append_section_patches(sections[s]->image.image_path, centres, sections[s]->image.spot_diameter_px, po, crops);
  }
  return std::move(crops[0]);
}

}  // namespace

void validate(const PretrainOptions& opt) {
  if (!is_cnn_trunk_name(opt.arch))
    throw InputError("--arch", "'" + opt.arch + "' is not a built-in CNN trunk (" + cnn_trunk_name_list() + ")");
  if (opt.epochs < 1) throw InputError("--epochs", "must be at least 1, not " + std::to_string(opt.epochs));
  if (opt.batch_size < 2) throw InputError("--batch-size", "NT-Xent needs at least 2 crops a step, not " + std::to_string(opt.batch_size));
  if (!(opt.lr > 0) || !std::isfinite(opt.lr)) throw InputError("--lr", "must be a positive number");
  if (!(opt.weight_decay >= 0) || !std::isfinite(opt.weight_decay)) throw InputError("--weight-decay", "must be >= 0");
  if (!(opt.temperature > 0) || !std::isfinite(opt.temperature)) throw InputError("--temperature", "must be a positive number");
  if (!(opt.fov > 0) || !std::isfinite(opt.fov)) throw InputError("--fov", "must be a positive number of spot diameters");
  if (opt.max_crops < 0) throw InputError("--max-crops", "must be >= 0 (0: every spot)");
  if (opt.proj_dim < 1) throw InputError("--proj-dim", "must be at least 1");
}

torch::Tensor nt_xent_loss(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  TORCH_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes() && z1.size(0) >= 1, "nt_xent_loss: z1, z2 must be [B, P] alike");
  const int64_t b = z1.size(0);
  torch::Tensor z = torch::nn::functional::normalize(torch::cat({z1, z2}, 0),
                                                     torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor logits = torch::matmul(z, z.t()) / temperature;
  // A view is never its own candidate.
  logits = logits.masked_fill(torch::eye(2 * b, torch::TensorOptions().dtype(torch::kBool).device(z.device())),
                              -std::numeric_limits<float>::infinity());
  torch::Tensor partner = torch::cat({torch::arange(b, 2 * b), torch::arange(0, b)}).to(z.device());
  return torch::nn::functional::cross_entropy(logits, partner);
}

cv::Mat make_view(const cv::Mat& source, int out_px, std::mt19937_64& rng) {
  CV_Assert(source.type() == CV_8UC3 && source.rows == source.cols && source.rows >= 1);
  const int n = source.rows;
  const int side = std::clamp(int(std::lround(uniform(rng, 0.45, 1.0) * n)), 1, n);
  const int x0 = std::uniform_int_distribution<int>(0, n - side)(rng);
  const int y0 = std::uniform_int_distribution<int>(0, n - side)(rng);
  cv::Mat view;
  cv::resize(source(cv::Rect(x0, y0, side, side)), view, cv::Size(out_px, out_px), 0, 0,
             side > out_px ? cv::INTER_AREA : cv::INTER_LINEAR);
  const int quarter_turns = std::uniform_int_distribution<int>(0, 3)(rng);
  if (quarter_turns == 1) cv::rotate(view, view, cv::ROTATE_90_CLOCKWISE);
  if (quarter_turns == 2) cv::rotate(view, view, cv::ROTATE_180);
  if (quarter_turns == 3) cv::rotate(view, view, cv::ROTATE_90_COUNTERCLOCKWISE);
  if (std::bernoulli_distribution(0.5)(rng)) cv::flip(view, view, 1);
  std::array<int, 3> order{0, 1, 2};
  std::shuffle(order.begin(), order.end(), rng);
  for (int op : order) {
    const double f = uniform(rng, 0.8, 1.2);
    view = op == 0 ? adjust_brightness(view, f) : op == 1 ? adjust_contrast(view, f) : adjust_saturation(view, f);
  }
  Vec3d scale{}, shift{};
  for (int j = 0; j < 3; ++j) scale[size_t(j)] = uniform(rng, 0.95, 1.05);
  for (int j = 0; j < 3; ++j) shift[size_t(j)] = uniform(rng, -0.05, 0.05);
  return perturb_stains(view, scale, shift);
}

PretrainResult pretrain_trunk(const std::vector<const PreparedSection*>& sections, const PretrainOptions& opt) {
  validate(opt);
  const torch::Device device = encoder_device(opt.device);
  const int input_px = cnn_trunk_input_px(opt.arch);
  const int source_px = int(std::lround(1.5 * input_px));

  const auto spots = chosen_spots(sections, opt);
  if (spots.size() < 2) throw InputError("--data", "pretraining needs at least 2 spots, the sections have " +
                                                   std::to_string(spots.size()));
  spdlog::info("pretrain: cutting {} crops ({} spot diameters, {} px)", spots.size(), opt.fov, source_px);
  const std::vector<cv::Mat> sources = cut_sources(sections, spots, opt.fov, source_px);

  PretrainResult r;
  r.n_crops = int64_t(sources.size());
  torch::manual_seed(opt.seed);
  r.trunk = make_cnn_trunk(opt.arch);
  if (!opt.weights.empty()) load_cnn_weights(*r.trunk, opt.weights);
  ProjectionHeadMlp head(r.trunk->dim(), opt.proj_dim);
  r.trunk->to(device);
  head->to(device);
  std::vector<torch::Tensor> params = r.trunk->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::AdamW adam(params, torch::optim::AdamWOptions(opt.lr).weight_decay(opt.weight_decay));

  const int64_t n = r.n_crops;
  const int64_t bs = std::min<int64_t>(opt.batch_size, n);
  const int64_t steps = n / bs;  // a short last batch is dropped: fewer negatives, a noisier loss
  const int64_t total = steps * opt.epochs;
  const ImageNormalization norm = imagenet_normalization();
  ProgressBar bar("pretrain", total, "step");
  auto t0 = std::chrono::steady_clock::now();
  int64_t done = 0;
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 shuffle_rng(mix_seed(opt.seed, uint64_t(epoch) + 1));
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    r.trunk->train();
    head->train();
    double sum = 0;
    for (int64_t step = 0; step < steps; ++step, ++done) {
      // Cosine decay from lr to 0 over the whole run.
      const double lr = 0.5 * opt.lr * (1 + std::cos(M_PI * double(done) / double(total)));
      for (auto& g : adam.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      std::vector<cv::Mat> views(size_t(2 * bs));
      parallel_for(2 * bs, [&](int64_t v) {
        const int64_t crop = order[size_t(step * bs + v % bs)];
        std::mt19937_64 rng(mix_seed(mix_seed(opt.seed, uint64_t(epoch)), uint64_t(crop) * 2 + uint64_t(v / bs)));
        views[size_t(v)] = make_view(sources[size_t(crop)], input_px, rng);
      });
      torch::Tensor x = crops_to_tensor(views, input_px, norm).to(device);
      torch::Tensor z = head->forward(r.trunk->forward(x));
      torch::Tensor loss = nt_xent_loss(z.slice(0, 0, bs), z.slice(0, bs, 2 * bs), opt.temperature);
      adam.zero_grad();
      loss.backward();
      adam.step();
      const double step_loss = loss.item<double>();
      sum += step_loss;
      bar.advance();
      bar.set_suffix("epoch " + std::to_string(epoch + 1) + " loss " + std::to_string(step_loss).substr(0, 6));
    }
    r.epoch_loss.push_back(sum / double(steps));
    spdlog::debug("pretrain: epoch {} loss {:.4f}", epoch + 1, r.epoch_loss.back());
  }
  bar.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.trunk->to(torch::kCPU);
  r.trunk->eval();
  return r;
}

}  // namespace hiscmcl
