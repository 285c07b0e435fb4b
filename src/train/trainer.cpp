#include "train/trainer.h"

#include "train/epoch_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <array>
#include <optional>
#include <thread>

#include "common/atomic_output.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/normalize.h"
#include "dist/collectives.h"
#include "dist/process_group.h"

namespace hiscmcl {

torch::Tensor spot_forward(HisCMCLModel& model, const FeatureTensors& t, const torch::Tensor& idx,
                           const RunConfig& cfg, int64_t global_batch) {
  if (cfg.model.spot_context == SpotContext::spatial) {
    auto ctx = t.context.index_select(0, idx);  // [B, K]
    auto flat = ctx.flatten();
    auto expr = t.expression.index_select(0, flat).view({ctx.size(0), ctx.size(1), -1});
    auto xy = t.xy.index_select(0, flat).view({ctx.size(0), ctx.size(1), 2});
    return model->spot_embedding(expr, xy).select(1, 0);
  }
  auto expr = t.expression.index_select(0, idx).unsqueeze(0);
  auto xy = t.xy.index_select(0, idx).unsqueeze(0);
  SequenceGather gather;
  if (global_batch > 0 && dist::active())  // [1, b, D] of this rank -> [1, B, D]
    gather = [global_batch](const torch::Tensor& x) {
      return dist::gather_rows_with_grad(x.squeeze(0), global_batch).unsqueeze(0);
    };
  return model->spot_embedding(expr, xy, gather).squeeze(0);
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
  // Chunks of 256 rows; distributed, each rank embeds a contiguous run of chunks and they are
  // gathered: the same chunks, so the same values, as one process.
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (t.size() + kChunk - 1) / kChunk;
  std::vector<int64_t> counts;
  for (int r = 0; r < dist::world_size(); ++r) {
    auto [cb, ce] = dist::slice_of(chunks, r, dist::world_size());
    counts.push_back(std::min(t.size(), ce * kChunk) - std::min(t.size(), cb * kChunk));
  }
  auto [cb, ce] = dist::slice_of(chunks, dist::rank(), dist::world_size());
  std::vector<torch::Tensor> parts;
  for (int64_t i = cb * kChunk; i < std::min(t.size(), ce * kChunk); i += kChunk) {
    auto idx = torch::arange(i, std::min(t.size(), i + kChunk), torch::kInt64);
    parts.push_back(model->image_embedding(t.image_inputs(idx, cfg.model.fusion)));
  }
  torch::Tensor mine = parts.empty() ? torch::zeros({0, cfg.model.proj_dim}) : torch::cat(parts, 0);
  return dist::gather_rows(mine, counts);
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
    b.key_expression = t.expression;  // shared, never written: a second copy is N x G floats
  } else {
    std::vector<torch::Tensor> parts;
    for (auto* s : sections) parts.push_back(to_tensor(normalize(s->counts, eval_norm)));
    b.key_expression = torch::cat(parts, 0);
  }
}

namespace {

// This rank's slice of a global batch: all of it in a single process, and when the batch has fewer
// rows than there are ranks (then every rank computes the whole batch, the same gradient).
torch::Tensor my_rows(const torch::Tensor& idx) {
  if (idx.size(0) < dist::world_size()) return idx;
  auto [begin, end] = dist::slice_of(idx.size(0), dist::rank(), dist::world_size());
  return idx.slice(0, begin, end);
}

// One ensemble member of the frozen trainer: its bundle, optimiser and the loop over t.
struct FrozenMember {
  TrainResult result;
  std::unique_ptr<torch::optim::Adam> opt;
  EpochLoopSpec loop;
  FeatureTensors t;
  TokenProjections step_tokens, step_leaves;  // hierarchical: this optimiser step's projections
};

// Module initialisation draws from LibTorch's global generator, so members are built one after
// another, each right after seeding it; each then shuffles with a copy of the generator as its
// initialisation left it: the same draws as when the members trained one after another on it.
void build_member(FrozenMember& m, const std::vector<const PreparedSection*>& sections,
                  const FeatureStats& stats, const FeatureTensors& shared, const RunConfig& cfg,
                  bool data_parallel) {
  torch::manual_seed(cfg.train.seed);
  ModelBundle& b = m.result.bundle;
  init_bundle(b, sections, cfg);
  b.stats = stats;
  m.t = shared;
  if (cfg.train.permute_pairs) permute_pairs(m.t, cfg.train.seed);
  set_model_shape(b, m.t, m.t.spot.dim());
  b.model = HisCMCLModel(b.shape, cfg);
  m.opt = std::make_unique<torch::optim::Adam>(
      b.model->parameters(), torch::optim::AdamOptions(cfg.train.lr).weight_decay(cfg.train.weight_decay));

  const FeatureTensors& t = m.t;
  const int64_t n = t.size();
  const int64_t bs = std::min<int64_t>(cfg.train.batch_size, n);
  m.loop = EpochLoopSpec{"train", cfg.train.epochs, cfg.train.accumulation, n, bs,
                         cfg.train.drop_last ? n / bs : (n + bs - 1) / bs};
  m.loop.shuffle = at::detail::getDefaultCPUGenerator().clone();
  m.loop.begin_epoch = [&m](int) { m.result.bundle.model->train(); };
  m.loop.temperature = [&m] { return m.result.bundle.model->temperature(); };
  m.loop.inputs_finite = [&m] {  // every row: asked once, when the loss has turned non-finite
    const torch::Tensor all = torch::arange(m.t.size(), torch::kInt64);
    auto finite = [](const torch::Tensor& x) { return !x.defined() || torch::isfinite(x).all().item<bool>(); };
    bool ok = finite(m.t.expression);
    for (const LevelRows* level : {&m.t.spot, &m.t.neighbourhood})
      if (level->defined()) ok = ok && finite(level->rows(all));
    for (const LevelRows& level : m.t.scales) ok = ok && finite(level.rows(all));
    return ok;
  };
  // Data-parallel (METHOD.md §7.7): each rank embeds its slice of the global batch and gathers the
  // rest with grad, so every rank computes the loss of the whole batch; in batch context the
  // slice's spots attend over the keys and values of the whole batch, gathered at every layer.
  m.loop.batch_loss = [&m, &cfg](const torch::Tensor& idx, int) {
    HisCMCLModel& model = m.result.bundle.model;
    const int64_t total = idx.size(0);
    const torch::Tensor mine = my_rows(idx);
    const bool split = mine.size(0) < total;
    auto gather = [&](const torch::Tensor& x) { return split ? dist::gather_rows_with_grad(x, total) : x; };
    auto img = gather(model->image_embedding(m.t.image_inputs(mine, cfg.model.fusion), m.step_leaves));
    auto spot = gather(spot_forward(model, m.t, mine, cfg, split ? total : 0));
    return model->training_loss(spot, img, m.t.expression.index_select(0, idx));
  };
  if (data_parallel)
    m.loop.sync_gradients = [&m] { dist::average_gradients(m.result.bundle.model->parameters()); };
  if (b.model->image_branch()->shares_token_projections()) {
    // A step's micro-batches project their tokens once, as detached leaves whose gradients are
    // pushed through the projection once at the end of the step: the same gradient as projecting
    // per micro-batch, for a quarter of the work when most rows recur (METHOD.md §7.2).
    // Data-parallel, the rows of the whole step are projected in slices, one per rank, and
    // gathered with grad: the projection is split as the batches are.
    m.loop.begin_step = [&m, data_parallel](const std::vector<torch::Tensor>& batches) {
      auto branch = m.result.bundle.model->image_branch();
      auto rows = m.t.token_rows(torch::cat(batches));
      const int64_t u = rows.size(0);
      if (!data_parallel || u < dist::world_size()) {
        m.step_tokens = branch->project_tokens(m.t.spot.rows(rows), rows);
      } else {
        auto [begin, end] = dist::slice_of(u, dist::rank(), dist::world_size());
        const auto my_rows = rows.slice(0, begin, end);
        auto part = branch->project_tokens(m.t.spot.rows(my_rows), my_rows);
        auto all = [u](const torch::Tensor& x) { return dist::gather_rows_with_grad(x, u); };
        m.step_tokens = {rows, all(part.token), all(part.k_neigh), all(part.v_neigh), all(part.k_glob), all(part.v_glob)};
      }
      m.step_leaves = m.step_tokens.detached_leaves();
    };
    m.loop.end_step = [&m, data_parallel] {
      std::vector<torch::Tensor> outputs, grads;
      auto out = m.step_tokens.tensors(), leaves = m.step_leaves.tensors();
      for (size_t i = 0; i < out.size(); ++i)
        if (leaves[i].grad().defined()) outputs.push_back(out[i]), grads.push_back(leaves[i].grad());
        else if (data_parallel) outputs.push_back(out[i]), grads.push_back(torch::zeros_like(out[i]));  // same collectives on every rank
      if (!outputs.empty()) torch::autograd::backward(outputs, grads);
      m.step_tokens = {}, m.step_leaves = {};
    };
  }
}

// Member m as trained on rank `owner`: its parameters, buffers and per-epoch log, to every rank.
void share_member(FrozenMember& m, int owner, int epochs, std::vector<EpochLog>& log) {
  HisCMCLModel& model = m.result.bundle.model;
  std::vector<torch::Tensor> state = model->parameters();
  for (auto& b : model->buffers()) state.push_back(b);
  dist::broadcast_from(state, owner);
  std::vector<double> packed(size_t(epochs) * 4, 0.0);  // the owner's log; zeros elsewhere
  for (size_t e = 0; e < log.size() && e < size_t(epochs); ++e)
    std::copy_n(std::array<double, 4>{log[e].loss, log[e].seconds, log[e].spots_per_s, log[e].temperature}.begin(), 4,
                packed.begin() + ptrdiff_t(4 * e));
  auto values = torch::from_blob(packed.data(), {epochs * 4}, torch::kFloat64);
  dist::broadcast_from({values}, owner);
  log.resize(size_t(epochs));
  for (int e = 0; e < epochs; ++e)
    log[e] = EpochLog{e + 1, packed[4 * e], packed[4 * e + 1], packed[4 * e + 2], packed[4 * e + 3]};
}

bool has_dropout(const ModelConfig& m) {
  return m.input_dropout > 0 || m.fusion_dropout > 0 || m.spot_dropout > 0;
}

}  // namespace

TrainResult train_frozen(const std::vector<const PreparedSection*>& sections,
                         const std::vector<SectionFeatures>& features, const RunConfig& cfg) {
  validate(cfg, "run config");  // a config built in code is held to the same rules as a file
  if (sections.empty()) throw std::invalid_argument("no training sections");
  const FeatureStats stats = fit_feature_stats(features);
  const FeatureTensors shared = build_feature_tensors(sections, features, stats, cfg, true);

  // Members differ only in their seed; member 0 holds the others and the averaged loss curve.
  const int members = cfg.train.ensemble;
  std::vector<RunConfig> member_cfg(members, cfg);
  std::vector<FrozenMember> runs(members);
  // Distributed with at least as many members as ranks, the members are dealt to the ranks (k to
  // rank k mod W) and each trains alone: no traffic per step. Fewer members than ranks: each member
  // trains data-parallel over all ranks (METHOD.md §7.7).
  const int world = dist::world_size(), me = dist::rank();
  const bool spread = dist::active() && members >= world;
  const bool data_parallel = dist::active() && !spread;
  std::vector<int> mine;
  for (int k = 0; k < members; ++k)
    if (!spread || k % world == me) mine.push_back(k);
  for (int k = 0; k < members; ++k) {
    member_cfg[k].train.ensemble = 1;
    member_cfg[k].train.seed = cfg.train.seed + uint64_t(k);
    build_member(runs[k], sections, stats, shared, member_cfg[k], data_parallel);
  }

  // Small matrices use two cores poorly (her2st: 1 thread 10.4 s, 2 threads 7.9 s), so members
  // train side by side, the cores split between them; dropout draws from LibTorch's one global
  // generator, so with dropout they train one after another to stay reproducible. Data-parallel,
  // members train one after another: their collectives must not interleave.
  const int threads = at::get_num_threads();
  const int n_mine = int(mine.size());
  const int at_once = has_dropout(cfg.model) || data_parallel ? 1 : std::max(1, std::min(n_mine, threads));
  ProgressBar bar(at_once > 1 ? fmt::format("train ({} at once)", at_once) : "train",
                  int64_t(n_mine) * cfg.train.epochs * runs[0].loop.batches, "batch");
  std::vector<std::vector<EpochLog>> logs(members);
  const auto t_start = std::chrono::steady_clock::now();
  {
    std::optional<dist::LocalScope> alone;
    if (spread) alone.emplace();
    for (int first = 0; first < n_mine; first += at_once) {
      const int last = std::min(n_mine, first + at_once);
      if (last - first == 1) {
        const int k = mine[size_t(first)];
        logs[k] = run_epoch_loop(*runs[k].opt, runs[k].loop, &bar);
        continue;
      }
      at::set_num_threads(std::max(1, threads / (last - first)));  // new threads start with this
      std::vector<std::exception_ptr> errors(last - first);
      std::vector<std::thread> workers;
      for (int i = first; i < last; ++i)
        workers.emplace_back([&, i] {
          const int k = mine[size_t(i)];
          try {
            logs[k] = run_epoch_loop(*runs[k].opt, runs[k].loop, &bar);
          } catch (...) {
            errors[i - first] = std::current_exception();
          }
        });
      for (auto& w : workers) w.join();
      at::set_num_threads(threads);
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    }
  }
  if (spread)  // every rank ends with every member: weights and loss curve from the rank that trained it
    for (int k = 0; k < members; ++k) share_member(runs[k], k % world, cfg.train.epochs, logs[k]);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  // The log: the members' mean loss; an epoch's seconds and spots/s are for all members together
  // (side by side: the slowest member's seconds).
  std::vector<EpochLog> log = logs[0];
  for (size_t e = 0; e < log.size(); ++e) {
    double loss = 0, secs = 0, spots = 0;
    for (int k = 0; k < members; ++k) {
      loss += logs[k][e].loss;
      secs = at_once > 1 || spread ? std::max(secs, logs[k][e].seconds) : secs + logs[k][e].seconds;
      spots += logs[k][e].spots_per_s * logs[k][e].seconds;
    }
    log[e].loss = loss / members;
    log[e].seconds = secs;
    log[e].spots_per_s = spots / std::max(secs, 1e-9);
  }
  if (!log.empty())
    bar.set_suffix(fmt::format(" loss {:.4g} {:.0f} spots/s", log.back().loss, log.back().spots_per_s));
  bar.finish();

  // Retrieval keys: the training spots' embeddings and their expression on the evaluation scale.
  for (int k = 0; k < members; ++k) set_retrieval_keys(runs[k].result.bundle, runs[k].t, sections);
  TrainResult result = std::move(runs[0].result);
  for (int k = 1; k < members; ++k) result.bundle.members.push_back(std::move(runs[k].result.bundle));
  result.bundle.config = cfg;
  result.log = std::move(log);
  result.seconds = seconds;
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
