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

ImageInputs FeatureTensors::image_inputs(const torch::Tensor& idx, const std::string& fusion) const {
  ImageInputs in;
  in.table = spot;
  in.index = idx;
  if (fusion == "hierarchical") {
    in.neighbourhood = neighbourhood.index_select(0, idx);
    in.neighbours = neighbours.index_select(0, idx);
    in.global = global.index_select(0, idx);
  } else if (fusion == "multiscale") {
    in.scales = torch::stack({spot.index_select(0, idx), neighbourhood.index_select(0, idx)}, 1);
  }
  return in;
}

FeatureStats fit_feature_stats(const std::vector<SectionFeatures>& features) {
  auto fit = [&](const std::string& level, torch::Tensor& mean, torch::Tensor& sd) {
    std::vector<torch::Tensor> parts;
    for (auto& f : features) parts.push_back(to_tensor(f.level(level)));
    auto all = torch::cat(parts, 0).to(torch::kFloat64);
    mean = all.mean(0).to(torch::kFloat32);
    sd = all.std(0, /*unbiased=*/false).to(torch::kFloat32);
    sd = torch::where(sd > 1e-8, sd, torch::ones_like(sd));
  };
  FeatureStats s;
  fit("spot", s.spot_mean, s.spot_sd);
  fit("neighbourhood", s.neigh_mean, s.neigh_sd);
  return s;
}

FeatureTensors build_feature_tensors(const std::vector<const PreparedSection*>& sections,
                                     const std::vector<SectionFeatures>& features,
                                     const FeatureStats& stats, const ModelConfig& cfg,
                                     bool with_expression) {
  FeatureTensors t;
  std::vector<torch::Tensor> spot, neigh, nb, gl, ctx, expr, xy;
  int64_t offset = 0;
  t.offsets.push_back(0);
  auto index_tensor = [](const std::vector<int64_t>& v, int64_t n, int k, int64_t off) {
    return torch::tensor(v, torch::kInt64).view({n, k}) + off;
  };
  for (size_t s = 0; s < sections.size(); ++s) {
    const PreparedSection& sec = *sections[s];
    int64_t n = sec.n_spots();
    t.section_ids.push_back(sec.id);
    spot.push_back((to_tensor(features[s].level("spot")) - stats.spot_mean) / stats.spot_sd);
    neigh.push_back((to_tensor(features[s].level("neighbourhood")) - stats.neigh_mean) / stats.neigh_sd);
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
  t.spot = torch::cat(spot, 0);
  t.neighbourhood = torch::cat(neigh, 0);
  t.neighbours = torch::cat(nb, 0);
  t.global = torch::cat(gl, 0);
  t.context = torch::cat(ctx, 0);
  t.xy = torch::cat(xy, 0);
  if (with_expression) t.expression = torch::cat(expr, 0);
  return t;
}

}  // namespace hiscmcl
