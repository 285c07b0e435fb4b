// AnnData .h5ad files, following the AnnData on-disk specification (anndata/scanpy open them).
//
// Layout written for a PreparedSection (the dataset store and predictions):
//   X               float32 dense spots x genes (normalised expression, or the prediction)
//   layers/counts   float32 dense raw panel counts (omitted when PreparedSection::counts is empty)
//   layers/sd       float32 dense per-spot uncertainty of a prediction (when PreparedSection::spread)
//   obs             dataframe, index = spot ids; columns array_x, array_y, pixel_x, pixel_y
//                   (float64) and label (strings) when labels exist
//   var             dataframe, index = gene names
//   obsm/spatial    float64 n x 2: pixel (x, y) in the image
//   uns             section_id, patient, image_path, spot_diameter_px, um_per_px, image_width,
//                   image_height, affine (6 float64), normalization
//   uns/spatial/<section id>   when PreparedSection::spatial_image is set: images/hires (uint8
//                   H x W x 3), scalefactors/tissue_hires_scalef and spot_diameter_fullres,
//                   metadata/source_image_path (what scanpy's sc.pl.spatial and squidpy read)
#pragma once
#include <filesystem>
#include <string>

#include "io/section.h"

namespace hiscmcl {

namespace hdf5 {
class File;
}

// Atomic: written to a temporary name, then renamed.
void write_prepared_h5ad(const std::filesystem::path& path, const PreparedSection& s);
PreparedSection read_prepared_h5ad(const std::filesystem::path& path);
PreparedSection read_prepared_h5ad(const hdf5::File& f);  // an opened file (or image)

// Where an AnnData file's counts are (the manifest's counts_layer / assume_normalised).
struct H5adCountsSource {
  std::string counts_layer;        // non-empty: read layers/<counts_layer> instead of X
  bool assume_normalised = false;  // take X as it is (warning) even when it is not integer
};

// Any AnnData file with raw counts (X, or the layer, dense, CSR or CSC) into a Section: obs
// index = spot ids, var index = genes, obsm/spatial = pixel coordinates (else obs
// pxl_col_in_fullres / pxl_row_in_fullres), array_row/array_col obs columns when present; spots
// with obs in_tissue = 0 (bool or integer) are dropped. Counts must be non-negative integers (InputError naming the file, the
// first offending value and the way out) unless src.assume_normalised; obs and var names must
// be unique.
Section read_h5ad_section(const std::filesystem::path& path, const H5adCountsSource& src = {});
// The same on an opened file (or image); the section id is the stem of its name.
Section read_h5ad_section(const hdf5::File& f, const H5adCountsSource& src = {});

}  // namespace hiscmcl
