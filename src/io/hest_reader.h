// HEST-1k samples (mahmoodlab/HEST): one id names three files under a HEST root,
//   st/<id>.h5ad        raw counts in X (dense or CSR), obs index = barcodes, var index = genes,
//                       obsm/spatial = spot centres in full-resolution pixels (x, y) (else obs
//                       pxl_col_in_fullres / pxl_row_in_fullres), obs array_col / array_row,
//                       obs in_tissue (spots with 0 are dropped)
//   wsis/<id>.tif       the pyramidal H&E (read through OpenSlide)
//   metadata/<id>.json  pixel_size_um_estimated (µm/px), spot_diameter and inter_spot_dist (µm),
//                       st_technology, patient, organ, ... ; Python writes missing values as a bare
//                       NaN, which is read as missing
// and optionally patches/<id>.h5 (HEST's own 224 px crops at 0.5 µm/px, see hest_patches.h).
// Manifest: format = "hest", root = "<HEST root>", sample = "<HEST id>" (default: the section id).
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "io/manifest.h"
#include "io/section.h"

namespace hiscmcl {

struct HestMetadata {
  std::optional<double> pixel_size_um;       // pixel_size_um_estimated, else _embedded
  std::optional<double> spot_diameter_um;    // spot_diameter
  std::optional<double> inter_spot_dist_um;  // inter_spot_dist
  std::string st_technology, patient, organ, species, disease_state, oncotree_code;
};

// The files of a sample under a HEST root.
struct HestPaths {
  std::filesystem::path st, wsi, metadata, patches;
};
HestPaths hest_paths(const std::filesystem::path& root, const std::string& sample);

// A HEST metadata JSON's text (NaN/Infinity tokens outside strings read as null; empty and
// whitespace-only strings as missing). InputError naming `file` when it is not a JSON object or
// a pixel size, spot_diameter or inter_spot_dist is a number <= 0.
HestMetadata parse_hest_metadata(std::string_view text, const std::string& file);
HestMetadata read_hest_metadata(const std::filesystem::path& path);

// A manifest section of format "hest". Geometry: um_per_px from the metadata's pixel size (the
// manifest's um_per_px wins); spot_diameter_px = spot_diameter / um_per_px (else the manifest's
// spot_diameter_px, else 55 µm for Visium, 100 µm for Spatial Transcriptomics), then checked
// against the spots' spacing (io/spot_spacing.h: a warning and a diameter from the spacing when
// they disagree). The patient is
// the manifest's, else the metadata's, else the id. InputError naming the missing file, a
// metadata without a pixel size, or a spot outside the slide.
Section read_hest_section(const ManifestSection& ms);

}  // namespace hiscmcl
