#include "predict/stacked_ridge.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>

#include "common/atomic_output.h"
#include "common/error.h"
#include "data/normalize.h"
#include "io/hdf5_file.h"
#include "predict/retrieval_predictor.h"
#include "train/model_bundle.h"

namespace fs = std::filesystem;

namespace hiscmcl {

const std::vector<double> kRidgeAlphas = {1, 3, 10, 30, 100, 300, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6};

namespace {

void append_rows(Matrix& to, const Matrix& rows) {
  if (to.rows == 0) to = Matrix(0, rows.cols);
  to.data.insert(to.data.end(), rows.data.begin(), rows.data.end());
  to.rows += rows.rows;
}

// The sections' rows one after another, leaving out section `skip` (none by default).
Matrix rows_except(const std::vector<Matrix>& parts, size_t skip = SIZE_MAX) {
  Matrix out;
  for (size_t i = 0; i < parts.size(); ++i)
    if (i != skip) append_rows(out, parts[i]);
  return out;
}

constexpr const char* kFile = "ridge.h5";

void shuffle_rows(Matrix& m, std::mt19937_64& rng) {
  std::vector<int64_t> order(size_t(m.rows));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  Matrix out(m.rows, m.cols);
  for (int64_t i = 0; i < m.rows; ++i)
    std::copy_n(m.data.begin() + order[size_t(i)] * m.cols, m.cols, out.data.begin() + i * m.cols);
  m = std::move(out);
}

}  // namespace

Matrix eval_expression(const PreparedSection& s, Normalization eval_norm) {
  if (choice_name(eval_norm) == s.normalization) return s.expression;
  return normalize(s.counts, eval_norm);
}

ContextSizes context_sizes(const ModelConfig& m) { return {m.n_neighbours, m.n_global}; }

SectionRidgeData section_ridge_data(const TrainingSections& train, BaselineInputs inputs, const RunConfig& cfg) {
  SectionRidgeData d;
  std::mt19937_64 rng(cfg.train.seed + 7919);
  for (size_t j = 0; j < train.sections.size(); ++j) {
    d.designs.push_back(baseline_features(train.sections[j]->pixel_xy, *train.features[j], inputs,
                                          context_sizes(cfg.model)));
    d.targets.push_back(eval_expression(*train.sections[j], cfg.data.eval_norm));
    if (cfg.train.permute_pairs) shuffle_rows(d.targets.back(), rng);
  }
  return d;
}

RidgeModel fit_section_ridge(const SectionRidgeData& data, double fixed_alpha) {
  const Matrix x = rows_except(data.designs), y = rows_except(data.targets);
  if (fixed_alpha > 0) return fit_ridge(x, y, fixed_alpha);
  if (data.designs.size() < 2) return fit_ridge(x, y, 100);
  std::vector<int> groups;
  for (size_t j = 0; j < data.designs.size(); ++j) groups.insert(groups.end(), size_t(data.designs[j].rows), int(j));
  return fit_ridge_cv(x, y, groups, kRidgeAlphas).model;
}

GeneBlend fit_section_blend(const ModelBundle& bundle, const PredictConfig& pc, const TrainingSections& train,
                            const SectionRidgeData& data, double alpha) {
  if (train.sections.size() < 2) throw std::invalid_argument("stacked: fitting the blend needs two training sections");
  for (size_t j = 0; j < train.sections.size(); ++j)
    if (j >= bundle.train_sections.size() || bundle.train_sections[j] != train.sections[j]->id)
      throw std::logic_error("stacked: the model's training sections are not the ones given, in order");
  std::vector<BlendSection> held_out;
  for (size_t j = 0; j < train.sections.size(); ++j) {
    ModelBundle others = without_training_section(bundle, j);
    held_out.push_back({RetrievalPredictor(others, pc).predict(train.sections[j]->pixel_xy, *train.features[j]).mean,
                        predict_ridge(fit_ridge(rows_except(data.designs, j), rows_except(data.targets, j), alpha),
                                      data.designs[j]),
                        data.targets[j]});
  }
  return fit_gene_blend(held_out);
}

StackedRidge fit_stacked_ridge(const ModelBundle& bundle, const TrainingSections& train, const RunConfig& cfg) {
  StackedRidge s;
  s.context = context_sizes(cfg.model);
  const SectionRidgeData data = section_ridge_data(train, BaselineInputs::crops_and_context, cfg);
  s.ridge = fit_section_ridge(data, cfg.predict.ridge_alpha);
  if (cfg.predict.predictor == PredictorKind::stacked && cfg.predict.stack_weight < 0 && train.sections.size() >= 2)
    s.blend = fit_section_blend(bundle, cfg.predict, train, data, s.ridge.alpha).weight;
  s.predict_settings = predict_settings(cfg).dump();
  return s;
}

std::optional<GeneBlend> stack_blend(const StackedRidge& s, const PredictConfig& predict, size_t n_genes) {
  if (predict.stack_weight >= 0) return GeneBlend{std::vector<double>(n_genes, predict.stack_weight)};
  if (s.blend.size() != n_genes) return std::nullopt;
  return GeneBlend{s.blend};
}

Matrix stack_prediction(const StackedRidge& s, const GeneBlend& blend, const Matrix& retrieval,
                        const std::vector<std::array<double, 2>>& pixel_xy, const SectionFeatures& features) {
  const Matrix ridge =
      predict_ridge(s.ridge, baseline_features(pixel_xy, features, BaselineInputs::crops_and_context, s.context));
  return apply_gene_blend(blend, retrieval, ridge);
}

void save_stacked_ridge(const fs::path& model_dir, const StackedRidge& s) {
  const fs::path path = model_dir / kFile;
  AtomicPath out(path);
  {
    hdf5::File f = hdf5::File::create(out.temp(), path.string());
    hdf5::Group root = f.root();
    const RidgeModel& r = s.ridge;
    const hsize_t nf = hsize_t(r.n_features), nt = hsize_t(r.n_targets);
    root.write_numbers<double>("alpha", {}, &r.alpha);
    root.write_numbers<double>("x_mean", {nf}, r.x_mean.data());
    root.write_numbers<double>("x_scale", {nf}, r.x_scale.data());
    root.write_numbers<double>("y_mean", {nt}, r.y_mean.data());
    root.write_numbers<double>("weights", {nf, nt}, r.weights.data());
    const int64_t context[2] = {s.context.n_neighbours, s.context.n_global};
    root.write_numbers<int64_t>("context", {2}, context);
    if (!s.blend.empty()) root.write_numbers<double>("blend", {hsize_t(s.blend.size())}, s.blend.data());
    root.write_string("predict_settings", s.predict_settings);
    f.flush();
  }
  out.commit();
}

std::optional<StackedRidge> load_stacked_ridge(const fs::path& model_dir) {
  const fs::path path = model_dir / kFile;
  if (!fs::exists(path)) return std::nullopt;
  hdf5::File f = hdf5::File::open(path, "a ridge (ridge.h5 of a model folder)");
  StackedRidge s;
  RidgeModel& r = s.ridge;
  r.alpha = f.dataset("alpha").read_scalar();
  std::vector<hsize_t> dims;
  r.weights = f.dataset("weights").read_numbers<double>({-1, -1}, &dims);
  r.n_features = int64_t(dims[0]);
  r.n_targets = int64_t(dims[1]);
  r.x_mean = f.dataset("x_mean").read_numbers<double>({r.n_features});
  r.x_scale = f.dataset("x_scale").read_numbers<double>({r.n_features});
  r.y_mean = f.dataset("y_mean").read_numbers<double>({r.n_targets});
  const auto context = f.dataset("context").read_numbers<int64_t>({2});
  if (context[0] < 1 || context[1] < 1) f.fail("context", "context sizes must be >= 1");
  s.context = {int(context[0]), int(context[1])};
  if (f.exists("blend")) s.blend = f.dataset("blend").read_numbers<double>({r.n_targets});
  // A NaN or infinite coefficient makes every prediction NaN: refused here, naming the dataset.
  auto require_finite = [&](const char* name, const std::vector<double>& v) {
    for (double x : v)
      if (!std::isfinite(x)) f.fail(name, "non-finite values (NaN or infinity)");
  };
  require_finite("alpha", {r.alpha});
  require_finite("weights", r.weights);
  require_finite("x_mean", r.x_mean);
  require_finite("x_scale", r.x_scale);
  require_finite("y_mean", r.y_mean);
  require_finite("blend", s.blend);
  s.predict_settings = f.dataset("predict_settings").read_strings(1).at(0);
  return s;
}

}  // namespace hiscmcl
