// The TOML manifest: a list of sections with their files (relative to the data root) and image
// geometry. See configs/her2st.toml for the layout.
//
//   [[section]]
//   id = "C2"; patient = "C"; format = "st_legacy"
//   counts = "data/ST-cnts/C2.tsv.gz"; spots = "data/ST-spotfiles/C2_selection.tsv"
//   image = "data/ST-imgs/C/C2/5714_HE_BT_C2.jpg"; spot_diameter_px = 136
//   labels = "..."              # optional region labels (x, y, label columns)
//   clusters = "..."            # optional published expression clusters (same layout)
//   affine = [a, b, c, d, e, f] # optional: spot-table pixels -> image pixels
//
// format = "visium": dir = "<spaceranger out>" (+ optional image = "...", which resolution is
// inferred: full-res TIFF, tissue_hires_image.png or tissue_lowres_image.png).
// format = "h5ad": file = "<x.h5ad>" (+ image, spot_diameter_px). X must hold raw counts;
//   counts_layer = "counts" reads layers/counts instead, assume_normalised = true takes X as is.
// format = "hest": root = "<HEST-1k download>" (+ sample = "<HEST id>", default the section id;
//   patient defaults to the sample's metadata). See io/hest_reader.h.
// format = "st_legacy": allow_missing_spots = true drops selected spots without a counts row
//   (warning) instead of failing.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hiscmcl {

struct ManifestSection {
  std::string id;
  std::string patient;
  std::string format;                                // st_legacy | visium | h5ad | hest
  std::map<std::string, std::filesystem::path> files;  // counts, spots, image, labels, clusters, dir, file, root
  std::optional<double> spot_diameter_px;
  std::optional<double> um_per_px;
  std::optional<std::array<double, 6>> affine;
  std::string counts_layer;          // h5ad: read layers/<counts_layer> instead of X
  bool assume_normalised = false;    // h5ad: take a non-integer X as it is (warning)
  bool allow_missing_spots = false;  // st_legacy: see ReadOptions (io/section_reader.h)
  std::string hest_sample;           // hest: the sample's HEST id when it differs from id
};

// A named set of marker genes (`[markers]` table: name = ["ERBB2", "GRB7"]), by symbol or id.
struct MarkerSet {
  std::string name;
  std::vector<std::string> genes;
};

struct Manifest {
  std::filesystem::path path;       // the manifest file
  std::filesystem::path data_root;  // paths are relative to this
  std::string name;
  std::filesystem::path genes;         // `genes`: the dataset's gene panel file (resolved), or empty
  std::filesystem::path gene_symbols;  // `gene_symbols`: id -> symbol table (resolved), or empty
  std::vector<MarkerSet> markers;      // `[markers]`, in file order
  std::vector<ManifestSection> sections;

  const ManifestSection& section(const std::string& id) const;  // InputError if unknown
  // The sections with these ids (none = all), in manifest order; InputError on unknown ids.
  std::vector<ManifestSection> select(const std::vector<std::string>& ids) const;
};

// data_root empty: the manifest's own folder.
Manifest load_manifest(const std::filesystem::path& path,
                       const std::filesystem::path& data_root = {});

}  // namespace hiscmcl
