#include "predict/retrieval_predictor.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "common/log.h"
#include "predict/key_index.h"
#include "predict/retrieval.h"
#include "train/feature_tensors.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace hiscmcl {

Matrix query_embeddings(ModelBundle& bundle, const std::vector<std::array<double, 2>>& pixel_xy,
                        const SectionFeatures& features) {
  PreparedSection query;
  query.id = "query";
  query.pixel_xy = pixel_xy;
  query.array_xy.assign(pixel_xy.size(), {0.0, 0.0});
  query.spot_ids.assign(pixel_xy.size(), "");
  FeatureTensors t = build_feature_tensors({&query}, {features}, bundle.stats, bundle.config, false);
  return to_matrix(hiscmcl::image_embeddings(bundle.model, t, bundle.config));
}

SpotPrediction combine_members(std::vector<SpotPrediction> parts) {
  if (parts.size() == 1) return std::move(parts.front());
  const double n = double(parts.size());
  SpotPrediction out{Matrix(parts[0].mean.rows, parts[0].mean.cols, 0.f), Matrix(parts[0].mean.rows, parts[0].mean.cols, 0.f)};
  for (size_t i = 0; i < out.mean.data.size(); ++i) {
    double sum = 0, sum_sq = 0, spread_sq = 0;
    for (const auto& p : parts) {
      sum += p.mean.data[i];
      sum_sq += double(p.mean.data[i]) * p.mean.data[i];
      spread_sq += double(p.sd.data[i]) * p.sd.data[i];
    }
    const double mean = sum / n;
    out.mean.data[i] = float(mean);
    out.sd.data[i] = float(std::sqrt(std::max(0.0, spread_sq / n + sum_sq / n - mean * mean)));
  }
  return out;
}

namespace {

SpotPrediction retrieve(ModelBundle& member, const PredictConfig& pc, const std::vector<std::array<double, 2>>& pixel_xy,
                        const SectionFeatures& features) {
  Matrix q = query_embeddings(member, pixel_xy, features);
  double tau = 0;
  if (pc.weighting == Weighting::softmax)
    tau = pc.softmax_temperature > 0 ? pc.softmax_temperature : member.model->temperature();
  Matrix values = to_matrix(member.key_expression);
  if (pc.centre_sections) values = centre_groups(values, member.key_offsets);
  const Matrix keys = to_matrix(member.key_embeddings);
  const std::unique_ptr<KeyIndex> index = key_index_for(member, keys, pc);
  spdlog::debug("retrieval: {}", index->describe());
  if (pc.k > index->size()) {
    // The index clamps k to its size, so every reference spot votes: not the neighbourhood the
    // user asked for. Said once per process (cross-validation predicts many times).
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      spdlog::warn("predict.k = {} exceeds the model's {} reference spots: retrieval uses all {}", pc.k,
                   index->size(), index->size());
  }
  SpotPrediction out;
  out.mean = retrieval_predict(q, keys, values, *index, pc.k, parse_retrieval_distance(choice_name(pc.distance)),
                               nullptr, 1e-12, tau, &out.sd);
  return out;
}

}  // namespace

SpotPrediction RetrievalPredictor::predict(const std::vector<std::array<double, 2>>& pixel_xy,
                                           const SectionFeatures& features) {
  std::vector<SpotPrediction> parts;
  parts.push_back(retrieve(bundle_, pc_, pixel_xy, features));
  for (auto& m : bundle_.members) parts.push_back(retrieve(m, pc_, pixel_xy, features));
  return combine_members(std::move(parts));
}

std::string RetrievalPredictor::describe() const {
  return "retrieval: top-" + std::to_string(pc_.k) + " of " + std::to_string(bundle_.key_embeddings.size(0)) +
         " training spots, " + choice_name(pc_.distance) + ", " + choice_name(pc_.weighting);
}

ModelBundle without_training_section(const ModelBundle& b, size_t section) {
  if (section + 1 >= b.key_offsets.size())
    throw std::invalid_argument("without_training_section: the model has " +
                                std::to_string(b.key_offsets.empty() ? 0 : b.key_offsets.size() - 1) +
                                " training sections, not " + std::to_string(section + 1));
  const int64_t lo = b.key_offsets[section], hi = b.key_offsets[section + 1], n = b.key_offsets.back();
  auto drop = [&](const torch::Tensor& t) { return torch::cat({t.slice(0, 0, lo), t.slice(0, hi, n)}, 0); };
  ModelBundle out = b;
  out.key_embeddings = drop(b.key_embeddings);
  out.key_expression = drop(b.key_expression);
  out.key_offsets.clear();
  for (size_t s = 0; s < b.key_offsets.size(); ++s)
    if (s != section + 1) out.key_offsets.push_back(b.key_offsets[s] - (s > section ? hi - lo : 0));
  if (section < out.train_sections.size()) out.train_sections.erase(out.train_sections.begin() + int64_t(section));
  out.dir.clear();  // a stored ivf index holds every key
  out.members.clear();
  for (const auto& m : b.members) out.members.push_back(without_training_section(m, section));
  return out;
}

namespace {
fs::path stored_index_path(const fs::path& model_dir) { return model_dir / "keys.ivf"; }
}  // namespace

std::unique_ptr<KeyIndex> key_index_for(const ModelBundle& bundle, const Matrix& keys, const PredictConfig& pc) {
  if (pc.index == KeyIndexKind::flat) return make_flat_key_index(l2_normalised_rows(keys));
  const int nlist = pc.nlist > 0 ? int(std::min<int64_t>(pc.nlist, keys.rows)) : ivf_default_nlist(keys.rows);
  if (!bundle.dir.empty() && fs::exists(stored_index_path(bundle.dir))) {
    auto stored = load_key_index(stored_index_path(bundle.dir), pc.nprobe);
    if (key_index_nlist(*stored) == nlist && stored->size() == keys.rows && stored->dim() == keys.cols)
      return stored;
    spdlog::info("{}: made with other settings ({} lists); building the index for {} lists",
                 stored_index_path(bundle.dir).string(), key_index_nlist(*stored), nlist);
  }
  return make_ivf_key_index(l2_normalised_rows(keys), nlist, pc.nprobe, bundle.config.train.seed);
}

void save_key_index(const fs::path& model_dir, const ModelBundle& bundle) {
  if (bundle.config.predict.index == KeyIndexKind::ivf) {
    const Matrix keys = to_matrix(bundle.key_embeddings);
    key_index_for(bundle, keys, bundle.config.predict)->save(stored_index_path(model_dir));
  }
  for (size_t m = 0; m < bundle.members.size(); ++m)
    save_key_index(member_dir(model_dir, m), bundle.members[m]);
}

}  // namespace hiscmcl
