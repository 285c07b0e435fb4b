// Image features of every spot of a prepared section, at each level the model uses:
//   spot          crop of encoder.spot_fov spot diameters (or compat_crop_px pixels)
//   neighbourhood crop of encoder.neighbourhood_fov spot diameters (~3x: local context)
//   up<S>         with encoder.upsampled_scales "A,S,..": the spot crop bilinearly resized to
//                 S/A x the encoder input (the reference's multi-scale, METHOD.md §4.3: more
//                 pixels, not a wider field of view); CNN trunks only
// Cached under <data>/features/<section>/<encoder-tag>.<level>[.f16].npy (float16 with
// encoder.feature_dtype = "float16"; a float32 cache is rounded into one) with a JSON key of every input
// (image file size and mtime, centres, geometry, encoder, weights); a re-run with the same inputs
// loads the cache, a changed input recomputes. Each file is written atomically, so an interrupted
// run resumes from the levels and sections already finished. Cached levels are memory-mapped.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "common/feature_matrix.h"
#include "common/matrix.h"
#include "io/section.h"
#include "encoders/encoder.h"
#include "io/slide_image.h"
#include "config/run_config.h"

namespace hiscmcl {

struct FeatureLevel {
  std::string name;          // spot | neighbourhood | up<S>
  double fov_spot_diameters;
  int fixed_px;              // compat: fixed crop side in pixels (0: use fov)
  double upsample = 0;       // > 0: the spot crop resized to upsample x the encoder input
};

// InputError naming the config key when upsampled_scales is malformed.
std::vector<FeatureLevel> feature_levels(const EncoderConfig& cfg);
// The levels the multiscale fusion stacks: spot and the upsampled levels when
// encoder.upsampled_scales is set (the reference), else spot and neighbourhood.
std::vector<std::string> multiscale_levels(const EncoderConfig& cfg);
std::string encoder_tag(const EncoderConfig& cfg);  // file-name-safe encoder name
// seed: a randomly initialised CNN's weights (train.seed, for every subcommand alike).
EncoderOptions encoder_options(const EncoderConfig& cfg, uint64_t seed);

struct SectionFeatures {
  std::vector<std::string> level_names;
  std::vector<FeatureMatrix> levels;  // [n_spots, D] each, same order as level_names
  const FeatureMatrix& level(const std::string& name) const;
};

struct EmbedStats {
  int64_t crops_computed = 0;
  int64_t levels_cached = 0;
  double seconds = 0;
};
// encoder may be null when every level is cached (it is then created on demand with `seed`, which
// is part of the cache key for a randomly initialised CNN).
SectionFeatures embed_section(const std::filesystem::path& data_dir, const PreparedSection& s,
                              const EncoderConfig& cfg, uint64_t seed, Encoder* encoder,
                              EmbedStats* stats = nullptr);

// embed_section for every section, in order. Distributed (dist/process_group.h), each rank
// computes the sections it owns (balanced by spot count, the same split on every rank) into the
// shared cache, waits for the others, then reads every section back: the cache a single process
// would write, file for file. The data folder must be on a file system every rank sees.
std::vector<SectionFeatures> embed_sections(const std::filesystem::path& data_dir,
                                            const std::vector<PreparedSection>& sections,
                                            const EncoderConfig& cfg, uint64_t seed, Encoder* encoder,
                                            EmbedStats* stats = nullptr);

// encoder.feature_norm = "per_section": every level z-scored over the section's own spots, on
// reading (FeatureMatrix::standardised; the cache keeps the encoder's values). Stain, scanner and
// resolution differences between slides shift whole sections; within a section the features keep
// their contrasts. The model, its keys and both ridges all read these values. "none": unchanged.
// `what` names the section in the warning for a section too small to standardise reliably.
void apply_feature_norm(SectionFeatures& features, FeatureNorm norm, const std::string& what);

// Features of arbitrary spot centres on an image (prediction on a new slide): no cache.
// image_file only names the image in messages; the image is decoded once by the caller.
SectionFeatures embed_spots(const SlideImage& image, const std::string& image_file,
                            const std::vector<std::array<double, 2>>& centres,
                            double spot_diameter_px, const EncoderConfig& cfg, Encoder& encoder);

}  // namespace hiscmcl
