#include "train/trainer.h"

#include "train/epoch_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/atomic_output.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/normalize.h"

namespace hiscmcl {

torch::Tensor spot_forward(HisCMCLModel& model, const FeatureTensors& t, const torch::Tensor& idx,
                           const RunConfig& cfg) {
  if (cfg.model.spot_context == SpotContext::spatial) {
    auto ctx = t.context.index_select(0, idx);  // [B, K]
    auto flat = ctx.flatten();
    auto expr = t.expression.index_select(0, flat).view({ctx.size(0), ctx.size(1), -1});
    auto xy = t.xy.index_select(0, flat).view({ctx.size(0), ctx.size(1), 2});
    return model->spot_embedding(expr, xy).select(1, 0);
  }
  auto expr = t.expression.index_select(0, idx).unsqueeze(0);
  auto xy = t.xy.index_select(0, idx).unsqueeze(0);
  return model->spot_embedding(expr, xy).squeeze(0);
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

torch::Tensor spot_embeddings(HisCMCLModel& model, const FeatureTensors& t, const RunConfig& cfg) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> parts;
  auto run_chunks = [&](int64_t begin, int64_t end, int64_t chunk) {
    for (int64_t i = begin; i < end; i += chunk) {
      auto idx = torch::arange(i, std::min(end, i + chunk), torch::kInt64);
      parts.push_back(spot_forward(model, t, idx, cfg));
    }
  };
  if (cfg.model.spot_context == SpotContext::spatial) {
    run_chunks(0, t.size(), 256);
  } else if (cfg.predict.key_context == KeyContext::averaged) {
    // Each key averaged over random mixed chunks, as training batches are drawn: the batch
    // context the spot branch was trained in, with its randomness averaged out (METHOD.md §9.4).
    auto gen = at::detail::createCPUGenerator(cfg.train.seed + 104729);
    torch::Tensor sum;
    for (int r = 0; r < cfg.predict.key_rounds; ++r) {
      auto perm = torch::randperm(t.size(), gen, torch::kInt64);
      std::vector<torch::Tensor> round;
      for (int64_t i = 0; i < t.size(); i += cfg.predict.key_chunk) {
        auto idx = perm.slice(0, i, std::min(t.size(), i + cfg.predict.key_chunk));
        round.push_back(spot_forward(model, t, idx.to(t.expression.device()), cfg));
      }
      auto emb = torch::empty_like(torch::cat(round, 0));
      emb.index_copy_(0, perm.to(emb.device()), torch::cat(round, 0));
      sum = r == 0 ? emb : sum + emb;
    }
    return sum / double(cfg.predict.key_rounds);
  } else if (cfg.predict.key_context == KeyContext::per_section) {
    for (size_t s = 0; s + 1 < t.offsets.size(); ++s)
      run_chunks(t.offsets[s], t.offsets[s + 1], cfg.predict.key_chunk);
  } else {
    run_chunks(0, t.size(), cfg.predict.key_chunk);
  }
  return torch::cat(parts, 0);
}

torch::Tensor image_embeddings(HisCMCLModel& model, const FeatureTensors& t, const RunConfig& cfg) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < t.size(); i += 256) {
    auto idx = torch::arange(i, std::min(t.size(), i + 256), torch::kInt64);
    parts.push_back(model->image_embedding(t.image_inputs(idx, cfg.model.fusion)));
  }
  return torch::cat(parts, 0);
}

void init_bundle(ModelBundle& b, const std::vector<const PreparedSection*>& sections,
                 const RunConfig& cfg) {
  if (sections.empty()) throw std::invalid_argument("no training sections");
  b.config = cfg;
  b.genes = sections[0]->genes;
  b.normalization = sections[0]->normalization;
  std::vector<double> diam, umpp;
  for (auto* s : sections) {
    if (s->genes != b.genes)
      throw std::invalid_argument("training sections " + sections[0]->id + " and " + s->id +
                                  " have different gene panels; prepare them together");
    b.train_sections.push_back(s->id);
    diam.push_back(s->image.spot_diameter_px);
    if (s->image.um_per_px > 0) umpp.push_back(s->image.um_per_px);
  }
  b.spot_diameter_px = median(diam);
  b.um_per_px = median(umpp);
}

void permute_pairs(FeatureTensors& t, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed + 7919);
  auto perm = torch::randperm(t.size(), g, torch::kInt64);
  t.expression = t.expression.index_select(0, perm);
  t.xy = t.xy.index_select(0, perm);
}

void set_model_shape(ModelBundle& b, const FeatureTensors& t, int64_t feature_dim) {
  b.shape.feature_dim = feature_dim;
  b.shape.n_scales = int64_t(multiscale_levels(b.config.encoder).size());
  b.shape.n_genes = int64_t(b.genes.size());
  b.shape.max_x = t.xy.select(1, 0).max().item<int64_t>();
  b.shape.max_y = t.xy.select(1, 1).max().item<int64_t>();
}

void set_retrieval_keys(ModelBundle& b, const FeatureTensors& t,
                        const std::vector<const PreparedSection*>& sections) {
  const RunConfig& cfg = b.config;
  const RetrievalKeys keys = cfg.predict.keys;
  if (keys == RetrievalKeys::expression) {
    b.key_embeddings = spot_embeddings(b.model, t, cfg);
  } else if (keys == RetrievalKeys::image) {
    b.key_embeddings = image_embeddings(b.model, t, cfg);
  } else {
    namespace F = torch::nn::functional;
    const auto rows = F::NormalizeFuncOptions().dim(1);
    b.key_embeddings = F::normalize(spot_embeddings(b.model, t, cfg), rows) +
                       F::normalize(image_embeddings(b.model, t, cfg), rows);
  }
  b.key_offsets = t.offsets;
  const Normalization eval_norm = cfg.data.eval_norm;
  if (to_string(eval_norm) == b.normalization) {
    b.key_expression = t.expression.clone();
  } else {
    std::vector<torch::Tensor> parts;
    for (auto* s : sections) parts.push_back(to_tensor(normalize(s->counts, eval_norm)));
    b.key_expression = torch::cat(parts, 0);
  }
}

TrainResult train_frozen(const std::vector<const PreparedSection*>& sections,
                         const std::vector<SectionFeatures>& features, const RunConfig& cfg) {
  validate(cfg, "run config");  // a config built in code is held to the same rules as a file
  if (cfg.train.ensemble > 1) {
    // Members differ only in their seed; member 0 holds the others and the averaged loss curve.
    RunConfig one = cfg;
    one.train.ensemble = 1;
    TrainResult first = train_frozen(sections, features, one);
    for (int m = 1; m < cfg.train.ensemble; ++m) {
      spdlog::info("train: ensemble member {} of {}", m + 1, cfg.train.ensemble);
      one.train.seed = cfg.train.seed + uint64_t(m);
      TrainResult r = train_frozen(sections, features, one);
      for (size_t e = 0; e < first.log.size(); ++e) {
        first.log[e].loss += r.log[e].loss;
        first.log[e].seconds += r.log[e].seconds;
      }
      first.seconds += r.seconds;
      first.bundle.members.push_back(std::move(r.bundle));
    }
    for (auto& e : first.log) e.loss /= cfg.train.ensemble;
    first.bundle.config = cfg;
    return first;
  }
  torch::manual_seed(cfg.train.seed);
  TrainResult result;
  ModelBundle& b = result.bundle;
  init_bundle(b, sections, cfg);

  b.stats = fit_feature_stats(features);
  FeatureTensors t = build_feature_tensors(sections, features, b.stats, cfg, true);
  if (cfg.train.permute_pairs) permute_pairs(t, cfg.train.seed);
  set_model_shape(b, t, t.spot.size(1));
  b.model = HisCMCLModel(b.shape, cfg);

  torch::optim::Adam opt(b.model->parameters(),
                         torch::optim::AdamOptions(cfg.train.lr).weight_decay(cfg.train.weight_decay));
  const int64_t n = t.size();
  const int64_t bs = std::min<int64_t>(cfg.train.batch_size, n);
  EpochLoopSpec loop{"train", cfg.train.epochs, cfg.train.accumulation, n, bs,
                     cfg.train.drop_last ? n / bs : (n + bs - 1) / bs};
  loop.begin_epoch = [&](int) { b.model->train(); };
  loop.batch_loss = [&](const torch::Tensor& idx, int) {
    auto img = b.model->image_embedding(t.image_inputs(idx, cfg.model.fusion));
    auto spot = spot_forward(b.model, t, idx, cfg);
    return b.model->training_loss(spot, img, t.expression.index_select(0, idx));
  };
  loop.temperature = [&] { return b.model->temperature(); };
  auto t_start = std::chrono::steady_clock::now();
  result.log = run_epoch_loop(opt, loop);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // Retrieval keys: the training spots' expression embeddings and their expression on the
  // evaluation scale.
  set_retrieval_keys(b, t, sections);
  return result;
}

void write_train_log(const std::filesystem::path& path, const std::vector<EpochLog>& log) {
  std::ostringstream ss;
  ss << "epoch,loss,seconds,spots_per_s,temperature\n";
  ss.precision(8);
  for (auto& e : log)
    ss << e.epoch << "," << e.loss << "," << e.seconds << "," << e.spots_per_s << ","
       << e.temperature << "\n";
  write_text_file(path, ss.str());
}

}  // namespace hiscmcl
