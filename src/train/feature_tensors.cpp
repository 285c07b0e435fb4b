#include "train/feature_tensors.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include <ATen/Parallel.h>

#include "common/log.h"
#include "data/spatial_neighbours.h"

namespace hiscmcl {
namespace {

// A streamed level hands its read pages back after this many bytes: the cost of faulting them in
// again is small beside a step, and it bounds the pages one level holds.
// Counted in row bytes; a row's pages can be up to twice that.
constexpr int64_t kReleaseBytes = int64_t(256) << 20;

torch::ScalarType scalar_type(FeatureDtype d) { return d == FeatureDtype::float16 ? torch::kHalf : torch::kFloat32; }

// Rows [begin, end) of m as float32 (a copy). torch's kHalf is IEEE binary16, as FeatureMatrix's.
torch::Tensor feature_rows(const FeatureMatrix& m, int64_t begin, int64_t end) {
  if (m.is_standardised()) {  // through read_row: the values every other reader sees
    torch::Tensor out = torch::empty({end - begin, m.cols});
    for (int64_t r = begin; r < end; ++r) m.read_row(r, out.data_ptr<float>() + (r - begin) * m.cols);
    return out;
  }
  const char* p = static_cast<const char*>(m.data()) + begin * m.cols * dtype_bytes(m.dtype());
  auto view = torch::from_blob(const_cast<char*>(p), {end - begin, m.cols}, scalar_type(m.dtype()));
  return view.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace

torch::Tensor to_tensor(const Matrix& m) {
  return torch::from_blob(const_cast<float*>(m.data.data()), {m.rows, m.cols}, torch::kFloat32).clone();
}

Matrix to_matrix(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  Matrix m(c.size(0), c.size(1));
  std::memcpy(m.data.data(), c.data_ptr<float>(), m.data.size() * sizeof(float));
  return m;
}

struct LevelRows::State {
  torch::Tensor table;                  // resident: [N, D] as stored, or standardised (float32)
  bool standardised = false;
  std::vector<FeatureMatrix> sections;  // streamed: each section's rows
  std::vector<int64_t> offsets;
  torch::Tensor mean, sd;
  int64_t dim = 0;
  std::atomic<int64_t> bytes_read{0};
};

LevelRows::LevelRows(const std::vector<const FeatureMatrix*>& features, const std::vector<int64_t>& offsets,
                     torch::Tensor mean, torch::Tensor sd, bool streamed) {
  if (features.empty() || offsets.size() != features.size() + 1)
    throw std::invalid_argument("LevelRows: one feature matrix per section");
  auto s = std::make_shared<State>();
  s->offsets = offsets;
  s->mean = std::move(mean);
  s->sd = std::move(sd);
  s->dim = features[0]->cols;
  bool all_half = true;  // and stored as read: standardised sections are read as float32
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i]->cols != s->dim || features[i]->rows != offsets[i + 1] - offsets[i])
      throw std::invalid_argument("LevelRows: section features of the wrong shape");
    all_half = all_half && features[i]->dtype() == FeatureDtype::float16 && !features[i]->is_standardised();
  }
  if (streamed) {
    for (auto* f : features) s->sections.push_back(*f);
  } else {
    const FeatureDtype stored = all_half ? FeatureDtype::float16 : FeatureDtype::float32;
    s->table = torch::empty({offsets.back(), s->dim}, scalar_type(stored));
    char* out = static_cast<char*>(s->table.data_ptr());
    const int64_t row_bytes = s->dim * dtype_bytes(stored);
    for (size_t i = 0; i < features.size(); ++i) {
      const FeatureMatrix& f = *features[i];
      char* dst = out + offsets[i] * row_bytes;
      if (f.dtype() == stored && !f.is_standardised()) {
        std::memcpy(dst, f.data(), size_t(f.bytes()));
      } else {  // float16 sections beside float32 ones, or standardised on reading: widened
        for (int64_t r = 0; r < f.rows; ++r) f.read_row(r, reinterpret_cast<float*>(dst + r * row_bytes));
      }
      f.release_pages();
    }
    // A float32 table is standardised once, in place: the same operations on the same values as
    // on reading (so the same bits), without repeating them every step.
    if (stored == FeatureDtype::float32) {
      s->table.sub_(s->mean).div_(s->sd);
      s->standardised = true;
    }
  }
  state_ = std::move(s);
}

bool LevelRows::streamed() const { return state_ && !state_->table.defined(); }
int64_t LevelRows::dim() const { return state_ ? state_->dim : 0; }

torch::Tensor LevelRows::rows(const torch::Tensor& idx) const {
  if (!state_) throw std::logic_error("LevelRows::rows: no features at this level");
  State& s = *state_;
  torch::Tensor x;
  if (s.table.defined()) {
    x = s.table.index_select(0, idx);
    if (s.standardised) return x;
    x = x.to(torch::kFloat32);
  } else {
    const torch::Tensor id = idx.to(torch::kInt64).contiguous();
    const int64_t n = id.numel(), total = s.offsets.back();
    const int64_t* p = id.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] < 0 || p[i] >= total) throw std::out_of_range("LevelRows: row " + std::to_string(p[i]) + " of " + std::to_string(total));
    x = torch::empty({n, s.dim});
    float* out = x.data_ptr<float>();
    at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t sec = size_t(std::upper_bound(s.offsets.begin(), s.offsets.end(), p[i]) - s.offsets.begin() - 1);
        s.sections[sec].read_row(p[i] - s.offsets[sec], out + i * s.dim);
      }
    });
    const int64_t elem = s.sections.empty() ? 4 : dtype_bytes(s.sections[0].dtype());
    if (s.bytes_read.fetch_add(n * s.dim * elem) + n * s.dim * elem > kReleaseBytes) {
      s.bytes_read = 0;
      for (const auto& f : s.sections) f.release_pages();
    }
  }
  return (x - s.mean) / s.sd;
}

ImageInputs FeatureTensors::image_inputs(const torch::Tensor& idx, Fusion fusion) const {
  ImageInputs in;
  in.lookup = [rows = spot](const torch::Tensor& r) { return rows.rows(r); };
  in.index = idx;
  if (fusion == Fusion::hierarchical) {
    in.neighbourhood = neighbourhood.rows(idx);
    in.neighbours = neighbours.index_select(0, idx);
    in.global = global.index_select(0, idx);
  } else if (fusion == Fusion::multiscale) {
    std::vector<torch::Tensor> per_level;
    for (auto& l : scales) per_level.push_back(l.rows(idx));
    in.scales = torch::stack(per_level, 1);
  }
  return in;
}

torch::Tensor FeatureTensors::token_rows(const torch::Tensor& idx) const {
  ImageInputs lists;
  lists.index = idx;
  lists.neighbours = neighbours.index_select(0, idx);
  lists.global = global.index_select(0, idx);
  return hiscmcl::token_rows(lists);
}

torch::Tensor FeatureStats::standardise(const std::string& level, const torch::Tensor& x) const {
  for (size_t i = 0; i < levels.size(); ++i)
    if (levels[i] == level) return (x - mean[i]) / sd[i];
  throw std::invalid_argument("no feature statistics for level '" + level + "'");
}

FeatureStats fit_feature_stats(const std::vector<SectionFeatures>& features) {
  // Two passes over the sections in chunks (mean, then the centred squares), in float64: no
  // copy of every spot at once, and the same statistics as one pass over all of them.
  constexpr int64_t kChunk = 16384;
  FeatureStats s;
  for (const auto& level : features.front().level_names) {
    auto each_chunk = [&](const std::function<void(const torch::Tensor&)>& use) {
      for (const auto& f : features) {
        const FeatureMatrix& m = f.level(level);
        for (int64_t b = 0; b < m.rows; b += kChunk) use(feature_rows(m, b, std::min(m.rows, b + kChunk)).to(torch::kFloat64));
        m.release_pages();
      }
    };
    const int64_t dim = features.front().level(level).cols;
    int64_t n = 0;
    torch::Tensor sum = torch::zeros({dim}, torch::kFloat64), squares = torch::zeros({dim}, torch::kFloat64);
    torch::Tensor largest = torch::zeros({dim}, torch::kFloat64);
    each_chunk([&](const torch::Tensor& x) {
      sum += x.sum(0), n += x.size(0);
      largest = torch::maximum(largest, std::get<0>(x.abs().max(0)));
    });
    if (n == 0) throw std::invalid_argument("fit_feature_stats: no spots");
    const torch::Tensor mean = sum / double(n);
    each_chunk([&](const torch::Tensor& x) { squares += (x - mean).square().sum(0); });
    auto raw_sd = (squares / double(n)).sqrt().to(torch::kFloat32);
    auto sd = torch::where(raw_sd > 1e-8, raw_sd, torch::ones_like(raw_sd));
    bool half = false;
    for (const auto& f : features) half = half || f.level(level).dtype() == FeatureDtype::float16;
    if (half) {
      // float16 keeps 11 bits of the raw value, so a dimension far from zero beside its spread
      // (a large offset) loses more of its standardised value than one centred on zero.
      const double worst = (largest / sd.to(torch::kFloat64)).max().item<double>() * std::ldexp(1.0, -11);
      if (worst > 0.01)
        spdlog::warn("float16 features, level '{}': rounding moves a standardised value by up to {:.3f} sd "
                     "(a dimension with a large offset); encoder.feature_dtype = \"float32\" keeps it exact",
                     level, worst);
    }
    s.levels.push_back(level);
    s.mean.push_back(mean.to(torch::kFloat32));
    s.sd.push_back(sd);
  }
  return s;
}

FeatureStats identity_feature_stats(const std::vector<std::string>& levels, int64_t dim) {
  FeatureStats s;
  for (auto& l : levels) {
    s.levels.push_back(l);
    s.mean.push_back(torch::zeros({dim}));
    s.sd.push_back(torch::ones({dim}));
  }
  return s;
}

namespace {

// The memory this process may use: the machine's, or less under a cgroup limit (a container, a
// batch job's allocation), v2 or v1.
int64_t usable_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  int64_t bytes = pages > 0 && page > 0 ? int64_t(pages) * page : int64_t(16e9);
  for (const char* file : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(file);
    std::string text;
    if (f >> text && !text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
      const double limit = std::strtod(text.c_str(), nullptr);  // "max" (no limit) is not a number
      if (limit > 0 && limit < double(bytes)) bytes = int64_t(limit);
    }
  }
  return bytes;
}

}  // namespace

int64_t feature_memory_budget_bytes(const TrainConfig& cfg) {
  if (cfg.max_memory_gb > 0) return int64_t(std::min(cfg.max_memory_gb, 9e9) * 1e9);
  return usable_memory_bytes() / 2;
}

std::vector<std::string> fusion_levels(const RunConfig& run) {
  // spot always (the token table), neighbourhood for hierarchical, the stacked levels for multiscale.
  std::vector<std::string> names = {"spot"};
  if (run.model.fusion == Fusion::hierarchical) names.push_back("neighbourhood");
  if (run.model.fusion == Fusion::multiscale)
    for (auto& l : multiscale_levels(run.encoder))
      if (std::find(names.begin(), names.end(), l) == names.end()) names.push_back(l);
  return names;
}

namespace {

int64_t image_feature_bytes(const std::vector<SectionFeatures>& features, const RunConfig& run) {
  int64_t bytes = 0;
  for (auto& name : fusion_levels(run))
    for (auto& f : features) bytes += f.level(name).resident_bytes();
  return bytes;
}

}  // namespace

bool streams_image_features(const std::vector<SectionFeatures>& features, const RunConfig& run) {
  return image_feature_bytes(features, run) > feature_memory_budget_bytes(run.train);
}

FeatureTensors build_feature_tensors(const std::vector<const PreparedSection*>& sections,
                                     const std::vector<SectionFeatures>& features,
                                     const FeatureStats& stats, const RunConfig& run,
                                     bool with_expression) {
  const ModelConfig& cfg = run.model;
  FeatureTensors t;
  std::vector<torch::Tensor> nb, gl, ctx, xy;
  if (!features.empty() && features.size() != sections.size())
    throw std::invalid_argument("build_feature_tensors: one feature set per section, or none");
  int64_t offset = 0;
  t.offsets.push_back(0);
  auto index_tensor = [](const std::vector<int64_t>& v, int64_t n, int k, int64_t off) {
    return torch::tensor(v, torch::kInt64).view({n, k}) + off;
  };
  for (size_t s = 0; s < sections.size(); ++s) {
    const PreparedSection& sec = *sections[s];
    int64_t n = sec.n_spots();
    t.section_ids.push_back(sec.id);
    nb.push_back(index_tensor(nearest_spots(sec.pixel_xy, cfg.n_neighbours), n, cfg.n_neighbours, offset));
    gl.push_back(index_tensor(nearest_spots(sec.pixel_xy, cfg.n_global), n, cfg.n_global, offset));
    ctx.push_back(index_tensor(nearest_spots(sec.pixel_xy, cfg.spot_context_size), n,
                               cfg.spot_context_size, offset));
    std::vector<int64_t> coords;
    for (auto& a : sec.array_xy) {
      coords.push_back(std::max<int64_t>(0, std::llround(a[0])));
      coords.push_back(std::max<int64_t>(0, std::llround(a[1])));
    }
    xy.push_back(torch::tensor(coords, torch::kInt64).view({n, 2}));
    offset += n;
    t.offsets.push_back(offset);
  }
  t.neighbours = torch::cat(nb, 0);
  t.global = torch::cat(gl, 0);
  t.context = torch::cat(ctx, 0);
  t.xy = torch::cat(xy, 0);
  if (with_expression) {  // filled in place: no per-section copies beside the whole (10^6 x 785: 3 GB)
    const int64_t genes = sections.empty() ? 0 : sections[0]->expression.cols;
    t.expression = torch::empty({offset, genes});
    for (size_t s = 0; s < sections.size(); ++s) {
      const Matrix& e = sections[s]->expression;
      if (e.cols != genes || e.rows != t.offsets[s + 1] - t.offsets[s])
        throw std::invalid_argument("build_feature_tensors: section " + sections[s]->id + "'s expression has the wrong shape");
      std::memcpy(t.expression.data_ptr<float>() + t.offsets[s] * genes, e.data.data(), e.data.size() * sizeof(float));
    }
  }
  if (features.empty()) return t;

  const std::vector<std::string> names = fusion_levels(run);
  const bool streamed = streams_image_features(features, run);
  if (streamed)
    spdlog::info("image features {:.2f} GB > the {:.2f} GB budget (train.max_memory_gb): rows are read from the feature cache as needed",
                 double(image_feature_bytes(features, run)) / 1e9, double(feature_memory_budget_bytes(run.train)) / 1e9);
  std::map<std::string, LevelRows> level_rows;
  for (auto& name : names) {
    std::vector<const FeatureMatrix*> per_section;
    for (auto& f : features) per_section.push_back(&f.level(name));
    size_t i = size_t(std::find(stats.levels.begin(), stats.levels.end(), name) - stats.levels.begin());
    if (i == stats.levels.size()) throw std::invalid_argument("no feature statistics for level '" + name + "'");
    level_rows[name] = LevelRows(per_section, t.offsets, stats.mean[i], stats.sd[i], streamed);
  }
  t.spot = level_rows["spot"];
  if (cfg.fusion == Fusion::hierarchical) t.neighbourhood = level_rows["neighbourhood"];
  if (cfg.fusion == Fusion::multiscale)
    for (auto& l : multiscale_levels(run.encoder)) t.scales.push_back(level_rows[l]);
  return t;
}

}  // namespace hiscmcl
