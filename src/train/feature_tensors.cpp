#include "train/feature_tensors.h"

#include <cstring>

#include "data/spatial_neighbours.h"

namespace hiscmcl {

torch::Tensor to_tensor(const Matrix& m) {
  return torch::from_blob(const_cast<float*>(m.data.data()), {m.rows, m.cols}, torch::kFloat32).clone();
}

Matrix to_matrix(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  Matrix m(c.size(0), c.size(1));
  std::memcpy(m.data.data(), c.data_ptr<float>(), m.data.size() * sizeof(float));
  return m;
}

ImageInputs FeatureTensors::image_inputs(const torch::Tensor& idx, Fusion fusion) const {
  ImageInputs in;
  in.table = spot;
  in.index = idx;
  if (fusion == Fusion::hierarchical) {
    in.neighbourhood = neighbourhood.index_select(0, idx);
    in.neighbours = neighbours.index_select(0, idx);
    in.global = global.index_select(0, idx);
  } else if (fusion == Fusion::multiscale) {
    std::vector<torch::Tensor> per_level;
    for (auto& l : scales) per_level.push_back(l.index_select(0, idx));
    in.scales = torch::stack(per_level, 1);
  }
  return in;
}

torch::Tensor FeatureStats::standardise(const std::string& level, const torch::Tensor& x) const {
  for (size_t i = 0; i < levels.size(); ++i)
    if (levels[i] == level) return (x - mean[i]) / sd[i];
  throw std::invalid_argument("no feature statistics for level '" + level + "'");
}

FeatureStats fit_feature_stats(const std::vector<SectionFeatures>& features) {
  FeatureStats s;
  for (const auto& level : features.front().level_names) {
    std::vector<torch::Tensor> parts;
    for (auto& f : features) parts.push_back(to_tensor(f.level(level)));
    auto all = torch::cat(parts, 0).to(torch::kFloat64);
    auto sd = all.std(0, /*unbiased=*/false).to(torch::kFloat32);
    s.levels.push_back(level);
    s.mean.push_back(all.mean(0).to(torch::kFloat32));
    s.sd.push_back(torch::where(sd > 1e-8, sd, torch::ones_like(sd)));
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

FeatureTensors build_feature_tensors(const std::vector<const PreparedSection*>& sections,
                                     const std::vector<SectionFeatures>& features,
                                     const FeatureStats& stats, const RunConfig& run,
                                     bool with_expression) {
  const ModelConfig& cfg = run.model;
  const std::vector<std::string> scale_levels = multiscale_levels(run.encoder);
  FeatureTensors t;
  std::vector<torch::Tensor> spot, neigh, nb, gl, ctx, expr, xy;
  std::vector<std::vector<torch::Tensor>> scales(scale_levels.size());
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
    if (!features.empty()) {
      spot.push_back(stats.standardise("spot", to_tensor(features[s].level("spot"))));
      neigh.push_back(stats.standardise("neighbourhood", to_tensor(features[s].level("neighbourhood"))));
    }
    if (cfg.fusion == Fusion::multiscale && !features.empty())
      for (size_t l = 0; l < scale_levels.size(); ++l)
        scales[l].push_back(stats.standardise(scale_levels[l], to_tensor(features[s].level(scale_levels[l]))));
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
    if (with_expression) expr.push_back(to_tensor(sec.expression));
    offset += n;
    t.offsets.push_back(offset);
  }
  if (!features.empty()) {
    t.spot = torch::cat(spot, 0);
    t.neighbourhood = torch::cat(neigh, 0);
  }
  if (cfg.fusion == Fusion::multiscale && !features.empty())
    for (auto& l : scales) t.scales.push_back(torch::cat(l, 0));
  t.neighbours = torch::cat(nb, 0);
  t.global = torch::cat(gl, 0);
  t.context = torch::cat(ctx, 0);
  t.xy = torch::cat(xy, 0);
  if (with_expression) t.expression = torch::cat(expr, 0);
  return t;
}

}  // namespace hiscmcl
