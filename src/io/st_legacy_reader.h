// Legacy Spatial Transcriptomics sections (her2st, STUtility): a counts TSV (plain or gzip; header
// = empty field then gene names; rows "XxY" then counts), a spot table (x y new_x new_y pixel_x
// pixel_y selected), an H&E image, optional region labels (x y ... label).
// Spots kept: spot-table rows with selected == 1 that have a count row, joined on
// "round(x)xround(y)", in counts-file order. Count rows without a spot-table row are dropped
// with a warning; selected spots without a count row are an InputError (naming both files and
// examples) unless allow_missing_spots (ReadOptions or the manifest section) makes them a warning.
// pixel_xy = affine(pixel_x, pixel_y); every centre must lie inside the image.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/section.h"
#include "io/manifest.h"
#include "io/section_reader.h"

namespace hiscmcl {

struct CountsTable {
  std::vector<std::string> genes;     // header order
  std::vector<std::string> spot_ids;  // row names, quotes removed
  SparseCounts counts;                // spot_ids.size() x genes.size()
};
// InputError (file, line, gene) on a header without genes or with a gene twice, a repeated spot
// id, a short row, or a count that is non-numeric, negative, NaN or infinite.
CountsTable read_counts_tsv(const std::filesystem::path& path);

struct SpotTableRow {
  double x = 0, y = 0;              // array coordinates
  double pixel_x = 0, pixel_y = 0;  // spot centre in the spot table's pixel frame
  int selected = 1;                 // 1 = under tissue (a table without the column selects all)
};
std::vector<SpotTableRow> read_spot_table(const std::filesystem::path& path);

// "round(x)xround(y)" label -> region label, from a *_labeled_coordinates.tsv file.
std::map<std::string, std::string> read_spot_labels(const std::filesystem::path& path);

// The join key "round(x)xround(y)", e.g. (24.914, 13.042) -> "25x13".
std::string spot_key(double x, double y);
// x' = a0 x + a1 y + a2, y' = a3 x + a4 y + a5.
std::array<double, 2> apply_affine(const std::array<double, 6>& a, double x, double y);

struct StLegacyJoinStats {
  int64_t count_rows = 0;            // rows of the counts file
  int64_t table_rows = 0;            // rows of the spot table
  int64_t unselected = 0;            // spot-table rows with selected != 1 (dropped quietly)
  int64_t counts_without_spot = 0;   // count rows absent from the spot table (warned)
  int64_t spots_without_counts = 0;  // selected spot-table rows without a count row
  int64_t unlabeled = 0;             // kept spots without a label row (given "undetermined")
  int64_t joined = 0;                // spots kept
};

// ms.files: counts, spots, image (required), labels (optional). Fills id, patient, genes,
// spot ids, counts, array_xy (x, y), pixel_xy, labels and the image geometry. Spot diameter:
// the manifest's, else 100 µm / um_per_px (ST spots are 100 µm), else half the median
// nearest-neighbour distance; um_per_px defaults to 100 / spot diameter.
Section read_st_legacy(const ManifestSection& ms, StLegacyJoinStats* stats = nullptr,
                       const ReadOptions& opts = {});

}  // namespace hiscmcl
