// One tissue section in memory, whatever format it came from: counts (spots x genes), spot ids,
// array and image-pixel coordinates, optional region labels and published clusters, and the image
// with its geometry.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

struct ImageGeometry {
  std::string image_path;        // JPEG/PNG/TIFF or a whole-slide file (OpenSlide)
  double spot_diameter_px = 0;   // spot diameter in image pixels (drives crop sizes)
  double um_per_px = 0;          // 0 when unknown
  // Affine from the coordinates stored in the spot table to image pixels:
  // x_img = a[0]*x + a[1]*y + a[2];  y_img = a[3]*x + a[4]*y + a[5]. Already applied to
  // Section::pixel_xy; kept for the record.
  std::array<double, 6> affine{1, 0, 0, 0, 1, 0};
  int width = 0, height = 0;     // image size in pixels (0 until known)
};

struct Section {
  std::string id;
  std::string patient;
  std::vector<std::string> genes;     // column names of counts
  std::vector<std::string> spot_ids;  // row names ("XxY" for legacy ST, barcodes for Visium)
  SparseCounts counts;                // raw counts, spots x genes
  std::vector<std::array<double, 2>> array_xy;  // array coordinates (x = column, y = row)
  std::vector<std::array<double, 2>> pixel_xy;  // spot centres in image pixels (x, y)
  std::vector<std::string> labels;    // region labels, empty when the section has none
  std::vector<std::string> clusters;  // published expression clusters, empty when none
  ImageGeometry image;

  int64_t n_spots() const { return int64_t(spot_ids.size()); }
  int64_t n_genes() const { return int64_t(genes.size()); }
};

// A section after `prepare`: panel expression, normalised, as stored in DATA/<id>.h5ad.
// A numeric obs column beyond the fixed ones (a prediction's gene-set scores).
struct ObsColumn {
  std::string name;
  std::vector<float> values;  // one per spot
};

// A categorical obs column (pandas Categorical): codes index categories, -1 = missing.
struct ObsCategorical {
  std::string name;
  std::vector<std::string> categories;
  std::vector<int> codes;  // one per spot
};

// A low-resolution picture of the slide for scanpy/squidpy (uns["spatial"][<id>]): RGB uint8,
// height x width x 3 row-major; pixel = full-resolution pixel * hires_scalef. Empty when none.
struct SpatialImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  double hires_scalef = 0;

  bool empty() const { return rgb.empty(); }
};

struct PreparedSection {
  std::string id;
  std::string patient;
  std::vector<std::string> genes;
  std::vector<std::string> spot_ids;
  Matrix expression;  // spots x panel genes, normalised (the training input)
  Matrix counts;      // spots x panel genes, raw counts of the panel
  Matrix spread;      // a prediction's per-spot uncertainty (sd), spots x genes; empty otherwise
  std::vector<std::array<double, 2>> array_xy;
  std::vector<std::array<double, 2>> pixel_xy;
  std::vector<std::string> labels;     // region labels (obs "label")
  std::vector<std::string> clusters;   // published expression clusters (obs "cluster")
  std::vector<ObsColumn> obs_columns;  // written to obs after the fixed columns; not read back
  std::vector<ObsCategorical> obs_categoricals;  // likewise (a prediction's regions)
  ImageGeometry image;
  std::string normalization;  // "per_spot" | "per_gene_compat" | "per_spot_ln"
  SpatialImage spatial_image;  // written to uns/spatial when set (predictions); not read back

  int64_t n_spots() const { return int64_t(spot_ids.size()); }
};

}  // namespace hiscmcl
