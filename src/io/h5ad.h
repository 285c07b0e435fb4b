// AnnData .h5ad files, following the AnnData on-disk specification (anndata/scanpy open them).
//
// Layout written for a PreparedSection (the dataset store and predictions):
//   X               float32 dense spots x genes (normalised expression, or the prediction)
//   layers/counts   float32 dense raw panel counts (omitted when PreparedSection::counts is empty)
//   obs             dataframe, index = spot ids; columns array_x, array_y, pixel_x, pixel_y
//                   (float64) and label (strings) when labels exist
//   var             dataframe, index = gene names
//   obsm/spatial    float64 n x 2: pixel (x, y) in the image
//   uns             section_id, patient, image_path, spot_diameter_px, um_per_px, image_width,
//                   image_height, affine (6 float64), normalization
#pragma once
#include <filesystem>

#include "data/section.h"

namespace hiscmcl {

// Atomic: written to a temporary name, then renamed.
void write_prepared_h5ad(const std::filesystem::path& path, const PreparedSection& s);
PreparedSection read_prepared_h5ad(const std::filesystem::path& path);

// Any AnnData file with raw counts (X dense or CSR) into a Section: obs index = spot ids,
// var index = genes, obsm/spatial = pixel coordinates, array_row/array_col obs columns when present.
Section read_h5ad_section(const std::filesystem::path& path);

}  // namespace hiscmcl
