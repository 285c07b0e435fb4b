#include "encoders/section_features.h"
#include "encoders/histo_features.h"
#include "encoders/torchscript_sidecar.h"

#include "io/hest_patches.h"

#include <nlohmann/json.hpp>

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "common/atomic_output.h"
#include "common/crash_point.h"
#include "common/error.h"
#include "common/file_names.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/stage_key.h"
#include "data/patches.h"
#include "dist/process_group.h"
#include "io/npy.h"
#include "io/slide_image.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

json cache_key(const PreparedSection& s, const EncoderConfig& cfg, uint64_t seed, const FeatureLevel& level) {
  uint64_t h = fnv1a64(s.pixel_xy.data(), s.pixel_xy.size() * sizeof(s.pixel_xy[0]));
  json weights = cfg.name.rfind("torchscript:", 0) == 0 ? file_stamp(cfg.name.substr(12))
                                                        : file_stamp(cfg.weights);
  json key = {{"version", 2},
          {"encoder", embed_settings(cfg, seed)},
          {"weights", weights},
          {"image", file_stamp(s.image.image_path)},
          {"spot_diameter_px", s.image.spot_diameter_px},
          {"n_spots", s.n_spots()},
          {"centres_hash", std::to_string(h)},
          {"level", level.name},
          {"fov", level.fov_spot_diameters},
          {"fixed_px", level.fixed_px},
          {"upsample", level.upsample},
          {"patches", cfg.hest_patches && level.name == "spot"
                          ? file_stamp(hest_patches_file(s.image.image_path).string())
                          : json()}};
  if (cfg.name == "histo") key["histo_version"] = kHistoFeaturesVersion;  // other encoders' caches stay valid
  // The model's content and its side-car (input size, mean, std) decide every feature too.
  if (cfg.name.rfind("torchscript:", 0) == 0) key["torchscript"] = torchscript_cache_inputs(cfg.name.substr(12));
  return key;
}

// The first stored value that is NaN or infinite, as {row, column}; none when all are finite.
// Reads the stored values (float16: the exponent bits all set), not a standardised view.
std::optional<std::pair<int64_t, int64_t>> first_non_finite(const FeatureMatrix& m) {
  const int64_t n = m.rows * m.cols;
  if (m.dtype() == FeatureDtype::float16) {
    const uint16_t* p = static_cast<const uint16_t*>(m.data());
    for (int64_t i = 0; i < n; ++i)
      if ((p[i] & 0x7C00u) == 0x7C00u) return std::make_pair(i / m.cols, i % m.cols);
  } else {
    const float* p = static_cast<const float*>(m.data());
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return std::make_pair(i / m.cols, i % m.cols);
  }
  return std::nullopt;
}

// Features must be finite: one NaN makes the section's standardisation, the model trained on it and
// every prediction NaN. "spot 12, feature 3 is nan".
std::string non_finite_at(int64_t row, int64_t col, float value) {
  return fmt::format("spot {}, feature {} is {}", row, col, value);
}

// The cache's float16 stores a value past its largest (65504; from 65520 on it rounds to infinity)
// as infinity: refused before writing, naming the setting that avoids it.
void require_float16_range(const Matrix& m, const std::string& what) {
  for (size_t i = 0; i < m.data.size(); ++i)
    if (!(std::fabs(m.data[i]) < 65520.f))
      throw InputError("encoder.feature_dtype",
                       fmt::format("a feature of {} is {} (spot {}), past float16's range (65504): set "
                                   "encoder.feature_dtype = \"float32\"",
                                   what, m.data[i], int64_t(i) / std::max<int64_t>(1, m.cols)));
}

// Computes the listed levels for the centres, one pass over the image. Upsampled levels resize
// the spot crop (the first level without upsample) after cropping.
// With spot_patches, the spot level embeds those patches (resized to the encoder's input) instead
// of crops of the image.
std::vector<Matrix> compute_levels(const SlideImage& image, const std::vector<Centre>& centres,
                                   double spot_diameter_px, const std::vector<FeatureLevel>& levels,
                                   Encoder& enc, const std::string& label,
                                   const HestPatches* spot_patches = nullptr) {
  PatchOptions opt;
  opt.scales.clear();
  std::vector<int> crop_of(levels.size(), -1);  // index into opt.scales; -1: from spot_patches
  auto from_patches = [&](size_t l) { return spot_patches && levels[l].name == "spot"; };
  for (size_t l = 0; l < levels.size(); ++l) {
    if (levels[l].upsample > 0 || from_patches(l)) continue;
    crop_of[l] = int(opt.scales.size());
    opt.scales.push_back(CropScale{levels[l].fov_spot_diameters, levels[l].fixed_px});
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    if (levels[l].upsample <= 0) continue;
    if (!enc.any_input_size())
      throw InputError("encoder.upsampled_scales",
                       "needs an encoder that takes crops of any size (resnet18, resnet50, "
                       "densenet121), not " + enc.name());
    if (opt.scales.empty() || spot_patches)
      throw InputError("encoder.upsampled_scales", "no spot crop to upsample (not with hest_patches)");
    crop_of[l] = 0;  // the spot crop
  }
  opt.out_px = enc.input_size();
  opt.batch_size = 32;
  std::vector<Matrix> out(levels.size(), Matrix(int64_t(centres.size()), enc.dim()));
  ProgressBar bar("embed " + label, int64_t(centres.size() * levels.size()), "crops");
  std::vector<cv::Mat> patches;
  auto patch_batch = [&](int64_t first, int64_t count) -> const std::vector<cv::Mat>& {
    patches = spot_patches->read(first, count);
    const cv::Size want(opt.out_px, opt.out_px);
    for (auto& p : patches)
      if (p.size() != want) {
        cv::Mat r;
        cv::resize(p, r, want, 0, 0, p.cols > want.width ? cv::INTER_AREA : cv::INTER_LINEAR);
        p = r;
      }
    return patches;
  };
  if (opt.scales.empty()) opt.scales.push_back(CropScale{});  // batches only; crops unused
  for_each_patch_batch(image, centres, spot_diameter_px, opt,
                       [&](int64_t first, const std::vector<std::vector<cv::Mat>>& crops) {
                         const int64_t count = int64_t(crops[0].size());
                         for (size_t l = 0; l < levels.size(); ++l) {
                           const auto& src = crop_of[l] < 0 ? patch_batch(first, count)
                                                            : crops[size_t(crop_of[l])];
                           Matrix f;
                           if (levels[l].upsample > 0) {
                             const int side = int(std::lround(levels[l].upsample * enc.input_size()));
                             std::vector<cv::Mat> up(src.size());
                             for (size_t i = 0; i < src.size(); ++i)
                               cv::resize(src[i], up[i], cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
                             f = enc.embed(up);
                           } else {
                             f = enc.embed(src);
                           }
                           for (size_t i = 0; i < f.data.size(); ++i)
                             if (!std::isfinite(f.data[i]))
                               throw InputError(
                                   enc.name(),
                                   "the encoder returned a non-finite feature for " + label + ", level " + levels[l].name +
                                       " (" + non_finite_at(first + int64_t(i) / f.cols, int64_t(i) % f.cols, f.data[i]) +
                                       "): its weights or its computation are broken");
                           std::memcpy(out[l].row(first), f.data.data(), f.data.size() * sizeof(float));
                           bar.advance(int64_t(src.size()));
                         }
                       });
  bar.finish();
  return out;
}

}  // namespace

const FeatureMatrix& SectionFeatures::level(const std::string& name) const {
  for (size_t i = 0; i < level_names.size(); ++i)
    if (level_names[i] == name) return levels[i];
  throw std::invalid_argument("no feature level '" + name + "'");
}

std::vector<FeatureLevel> feature_levels(const EncoderConfig& cfg) {
  int fixed = cfg.compat_crop_px;
  std::vector<FeatureLevel> levels = {
      {"spot", cfg.spot_fov, fixed},
      {"neighbourhood", cfg.neighbourhood_fov,
       fixed > 0 ? int(std::lround(fixed * cfg.neighbourhood_fov / cfg.spot_fov)) : 0}};
  std::vector<int> scales = upsampled_scale_list(cfg.upsampled_scales);
  for (size_t i = 1; i < scales.size(); ++i)
    levels.push_back({"up" + std::to_string(scales[i]), cfg.spot_fov, fixed,
                      double(scales[i]) / double(scales[0])});
  return levels;
}

std::vector<std::string> multiscale_levels(const EncoderConfig& cfg) {
  std::vector<std::string> names = {"spot"};
  for (auto& l : feature_levels(cfg))
    if (l.upsample > 0) names.push_back(l.name);
  if (names.size() == 1) names.push_back("neighbourhood");
  return names;
}

std::string encoder_tag(const EncoderConfig& cfg) {
  std::string tag = cfg.name;
  if (tag.rfind("torchscript:", 0) == 0) tag = "torchscript-" + fs::path(tag.substr(12)).stem().string();
  if (!cfg.weights.empty()) tag += "-" + fs::path(cfg.weights).stem().string();
  if (cfg.img_norm != ImageNorm::imagenet) tag += "-" + choice_name(cfg.img_norm);
  return file_safe_name(tag);
}

EncoderOptions encoder_options(const EncoderConfig& cfg, uint64_t seed) {
  EncoderOptions o;
  o.weights = cfg.weights;
  o.device = cfg.device;
  o.batch_size = cfg.batch_size;
  o.img_norm = choice_name(cfg.img_norm);
  o.seed = seed;
  return o;
}

namespace {

// <tag>.<level>[.f16].npy and its key: a float16 cache sits beside the float32 one, so runs of
// either dtype keep their own.
fs::path cache_file(const fs::path& dir, const std::string& tag, const std::string& level, FeatureDtype dtype,
                    const char* ext) {
  return dir / (tag + "." + level + (dtype == FeatureDtype::float16 ? ".f16" : "") + ext);
}

// The cached level when its key matches and it has every spot; else empty.
// A cache holding NaN or infinity (damaged, or written by an older hiscmcl that did not check) is
// refused, naming the file and the section: deleting it recomputes it.
std::optional<FeatureMatrix> cached_level(const fs::path& npy, const fs::path& key_file, const json& key,
                                          int64_t n_spots, FeatureDtype dtype, const std::string& where) {
  if (!fs::exists(npy) || !fs::exists(key_file)) return std::nullopt;
  std::optional<FeatureMatrix> m;
  try {
    if (json::parse(read_text_file(key_file)) != key) return std::nullopt;
    m = map_npy_features(npy);
    if (m->rows != n_spots || m->dtype() != dtype) return std::nullopt;
  } catch (const std::exception& e) {
    spdlog::warn("feature cache {} unreadable ({}); recomputing", npy.string(), e.what());
    return std::nullopt;
  }
  const auto bad = first_non_finite(*m);
  m->release_pages();  // the scan read every page; the run reads them again when it needs them
  if (bad)
    throw InputError(npy.string(),
                     "the feature cache holds a non-finite value (" +
                         non_finite_at(bad->first, bad->second, (*m)(bad->first, bad->second)) +
                         "); delete the file to recompute it",
                     where);
  return m;
}

// Writes m in the cache's dtype, the key last (an entry counts only once both files are
// complete), and maps it back: the features then cost no memory until read.
FeatureMatrix store_level(const fs::path& dir, const std::string& tag, const std::string& level, FeatureDtype dtype,
                          const Matrix& m, const json& key) {
  const fs::path npy = cache_file(dir, tag, level, dtype, ".npy");
  if (dtype == FeatureDtype::float16) require_float16_range(m, npy.filename().string());
  write_npy_features(npy, m, dtype);
  crash_point("embed.features_written");
  write_text_file(cache_file(dir, tag, level, dtype, ".json"), key.dump(1));
  return map_npy_features(npy);
}

}  // namespace

SectionFeatures embed_section(const fs::path& data_dir, const PreparedSection& s,
                              const EncoderConfig& cfg, uint64_t seed, Encoder* encoder, EmbedStats* stats) {
  auto levels = feature_levels(cfg);
  fs::path dir = data_dir / "features" / s.id;
  std::string tag = encoder_tag(cfg);
  const FeatureDtype dtype = cfg.feature_dtype;
  SectionFeatures out;
  std::vector<FeatureLevel> todo;
  std::vector<size_t> todo_slot;
  std::unique_ptr<Encoder> owned;
  for (size_t i = 0; i < levels.size(); ++i) {
    out.level_names.push_back(levels[i].name);
    out.levels.emplace_back();
    const json key = cache_key(s, cfg, seed, levels[i]);
    auto file = [&](FeatureDtype d, const char* ext) { return cache_file(dir, tag, levels[i].name, d, ext); };
    const std::string where = "section " + s.id + ", level " + levels[i].name;
    std::optional<FeatureMatrix> hit =
        cached_level(file(dtype, ".npy"), file(dtype, ".json"), key, s.n_spots(), dtype, where);
    if (!hit && dtype == FeatureDtype::float16) {
      // A float32 cache rounds to the float16 one a fresh computation would store.
      if (auto wide = cached_level(file(FeatureDtype::float32, ".npy"), file(FeatureDtype::float32, ".json"), key,
                                   s.n_spots(), FeatureDtype::float32, where)) {
        const Matrix values = wide->to_matrix();
        try {
          hit = store_level(dir, tag, levels[i].name, dtype, values, key);
        } catch (const std::exception& e) {  // a read-only cache still serves the run, rounded in memory
          spdlog::warn("could not store the float16 feature cache ({}); rounding in memory", e.what());
          hit = FeatureMatrix::half_of(values);
        }
      }
    }
    if (hit) {
      out.levels[i] = std::move(*hit);
      if (stats) stats->levels_cached++;
      continue;
    }
    todo.push_back(levels[i]);
    todo_slot.push_back(i);
  }
  if (todo.empty()) return out;

  if (!encoder) {
    owned = make_encoder(cfg.name, encoder_options(cfg, seed));
    encoder = owned.get();
  }
  auto image = SlideImage::open(s.image.image_path);
  require_centres_inside(*image, s.pixel_xy, s.image.image_path);
  std::unique_ptr<HestPatches> patches;
  if (cfg.hest_patches) {
    fs::path file = hest_patches_file(s.image.image_path);
    if (file.empty())
      throw InputError(s.image.image_path, "encoder.hest_patches = true, but section " + s.id +
                                               "'s image is not a HEST slide (<root>/wsis/<id>.tif)");
    patches = std::make_unique<HestPatches>(file, s.spot_ids);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto computed = compute_levels(*image, s.pixel_xy, s.image.spot_diameter_px, todo, *encoder, s.id,
                                 patches.get());
  fs::create_directories(dir);
  for (size_t t = 0; t < todo.size(); ++t)
    out.levels[todo_slot[t]] = store_level(dir, tag, todo[t].name, dtype, computed[t], cache_key(s, cfg, seed, todo[t]));
  if (stats) {
    stats->crops_computed += s.n_spots() * int64_t(todo.size());
    stats->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return out;
}

std::vector<SectionFeatures> embed_sections(const fs::path& data_dir, const std::vector<PreparedSection>& sections,
                                            const EncoderConfig& cfg, uint64_t seed, Encoder* encoder,
                                            EmbedStats* stats) {
  std::vector<SectionFeatures> out(sections.size());
  std::vector<bool> done(sections.size(), false);
  if (dist::active()) {
    std::vector<int64_t> spots;
    for (auto& s : sections) spots.push_back(s.n_spots());
    const std::vector<int> owner = dist::balanced_owners(spots, dist::world_size());
    std::string mine;
    int n_mine = 0;
    for (size_t i = 0; i < sections.size(); ++i)
      if (owner[i] == dist::rank()) mine += (n_mine++ ? "," : "") + sections[i].id;
    spdlog::info("embed: rank {} of {} embeds {} of {} sections ({})", dist::rank(), dist::world_size(), n_mine,
                 sections.size(), mine);
    for (size_t i = 0; i < sections.size(); ++i)
      if (owner[i] == dist::rank()) out[i] = embed_section(data_dir, sections[i], cfg, seed, encoder, stats), done[i] = true;
    dist::wait_for_all("the sharded embed");
  }
  // The rest (all of them in a single process); distributed, the other ranks' sections are read
  // from the cache they wrote, and stats count this rank's own work only.
  EmbedStats* counted = dist::active() ? nullptr : stats;
  for (size_t i = 0; i < sections.size(); ++i)
    if (!done[i]) out[i] = embed_section(data_dir, sections[i], cfg, seed, encoder, counted);
  return out;
}

void apply_feature_norm(SectionFeatures& features, FeatureNorm norm, const std::string& what) {
  if (norm == FeatureNorm::none) return;
  // Below this the section's means and spreads are mostly noise: the features then say little.
  constexpr int64_t kFewSpots = 30;
  for (FeatureMatrix& m : features.levels) {
    if (m.rows > 0 && m.rows < kFewSpots && &m == &features.levels.front())
      spdlog::warn("{}: encoder.feature_norm = \"per_section\" standardises the features over this section's {} "
                   "spots; with fewer than {} the statistics are noisy (predict the whole section, or --grid)",
                   what, m.rows, kFewSpots);
    m = standardise_over_rows(m);
  }
}

SectionFeatures embed_spots(const SlideImage& image, const std::string& image_file,
                            const std::vector<std::array<double, 2>>& centres,
                            double spot_diameter_px, const EncoderConfig& cfg, Encoder& encoder) {
  auto levels = feature_levels(cfg);
  require_centres_inside(image, centres, image_file);
  SectionFeatures out;
  for (auto& l : levels) out.level_names.push_back(l.name);
  // Rounded as a cache of cfg.feature_dtype would be, so a query reads as the training spots did.
  for (Matrix& m : compute_levels(image, centres, spot_diameter_px, levels, encoder,
                                  fs::path(image_file).filename().string()))
    if (cfg.feature_dtype == FeatureDtype::float16) {
      require_float16_range(m, fs::path(image_file).filename().string());
      out.levels.push_back(FeatureMatrix::half_of(m));
    } else {
      out.levels.push_back(FeatureMatrix(std::move(m)));
    }
  return out;
}

}  // namespace hiscmcl
