#include "io/section_reader.h"

#include "common/error.h"
#include "common/isolated_call.h"
#include "io/h5ad.h"
#include "io/hest_reader.h"
#include "io/image_info.h"
#include "io/spot_spacing.h"
#include "io/st_legacy_reader.h"
#include "io/visium_reader.h"

namespace hiscmcl {

namespace {

// An h5ad carries no image geometry of its own: take it from the manifest, map obsm/spatial
// through the optional affine and check the centres against the image.
void apply_manifest_geometry(const ManifestSection& ms, Section& s) {
  s.image.affine = apply_manifest_affine(ms, s.pixel_xy);
  if (ms.spot_diameter_px)
    s.image.spot_diameter_px = settle_spot_diameter(ms.id, "the manifest's spot_diameter_px", *ms.spot_diameter_px,
                                                    s.pixel_xy, SpotArray::visium);
  if (ms.um_per_px) s.image.um_per_px = *ms.um_per_px;
  auto it = ms.files.find("image");
  if (it == ms.files.end()) return;
  ImageSize size = read_image_size(it->second);
  if (auto um = choose_um_per_px(ms.um_per_px, size.um_per_px, it->second.string())) s.image.um_per_px = *um;
  s.image.image_path = it->second.string();
  s.image.width = size.width;
  s.image.height = size.height;
  require_pixels_inside(s.spot_ids, s.pixel_xy, size, ms.files.at("file").string(), it->second.string());
}

}  // namespace

Section read_section(const ManifestSection& ms, const ReadOptions& opts) {
  Section s;
  if (ms.format == "st_legacy") {
    s = read_st_legacy(ms, nullptr, opts);
  } else if (ms.format == "visium") {
    s = read_visium(ms);
  } else if (ms.format == "hest") {
    s = read_hest_section(ms);
  } else if (ms.format == "h5ad") {
    auto it = ms.files.find("file");
    if (it == ms.files.end()) throw InputError(ms.id, "h5ad section needs a 'file'");
    s = read_h5ad_section(it->second, {ms.counts_layer, ms.assume_normalised});
    apply_manifest_geometry(ms, s);
  } else {
    throw InputError(ms.id, "unknown format '" + ms.format + "' (expected st_legacy, visium, h5ad or hest)");
  }
  s.id = ms.id;
  if (ms.format != "hest" || !ms.patient.empty()) s.patient = ms.patient;  // hest: else the metadata's
  return s;
}

void check_section_in_child(const ManifestSection& ms, const ReadOptions& opts) {
  std::filesystem::path hdf5_file;
  if (ms.format == "h5ad" && ms.files.count("file")) hdf5_file = ms.files.at("file");
  if (ms.format == "hest" && ms.files.count("root"))
    hdf5_file = hest_paths(ms.files.at("root"), ms.hest_sample.empty() ? ms.id : ms.hest_sample).st;
  if (ms.format == "visium" && ms.files.count("dir") &&
      std::filesystem::exists(ms.files.at("dir") / "filtered_feature_bc_matrix.h5"))
    hdf5_file = ms.files.at("dir") / "filtered_feature_bc_matrix.h5";
  if (hdf5_file.empty()) return;
  run_isolated(hdf5_file.string(), [&] { read_section(ms, opts); });
}

}  // namespace hiscmcl
