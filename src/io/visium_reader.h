// 10x Visium Space Ranger output folders (format = "visium", dir = the `outs` folder):
//   filtered_feature_bc_matrix.h5 (CSC features x barcodes) or filtered_feature_bc_matrix/ (mtx),
//   spatial/tissue_positions_list.csv (v1, no header) or spatial/tissue_positions.csv (v2, header),
//   spatial/scalefactors_json.json, and an image: the manifest's `image` (full resolution, scale 1),
//   else spatial/tissue_hires_image.png (tissue_hires_scalef), else tissue_lowres_image.png.
// Spots kept: in_tissue == 1 barcodes present in the matrix, in matrix order. Genes: feature
// names (symbols), duplicates made unique the AnnData way (TBCE, TBCE-1, ...).
// pixel_xy = (pxl_col, pxl_row) * scale; array_xy = (array_col, array_row).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "io/section.h"
#include "io/manifest.h"

namespace hiscmcl {

namespace hdf5 {
class File;
}

struct FeatureBarcodeMatrix {
  std::vector<std::string> genes;     // feature names, made unique
  std::vector<std::string> gene_ids;  // feature ids (Ensembl)
  std::vector<std::string> barcodes;
  SparseCounts counts;                // barcodes x genes (the CSC file read as CSR of its transpose)
};
// InputError naming the file and the missing dataset for corrupt or non-10x HDF5 files.
FeatureBarcodeMatrix read_10x_h5(const std::filesystem::path& path);
FeatureBarcodeMatrix read_10x_h5(const hdf5::File& f);  // an opened file (or image)
// matrix.mtx(.gz), barcodes.tsv(.gz), features.tsv(.gz) (or genes.tsv) in `dir`.
FeatureBarcodeMatrix read_10x_mtx(const std::filesystem::path& dir);

struct TissuePosition {
  std::string barcode;
  int in_tissue = 0;
  double array_row = 0, array_col = 0;
  double pxl_row = 0, pxl_col = 0;  // full-resolution pixels
};
std::vector<TissuePosition> read_tissue_positions(const std::filesystem::path& path);

struct ScaleFactors {
  double spot_diameter_fullres = 0;
  double tissue_hires_scalef = 0;
  double tissue_lowres_scalef = 0;
};
ScaleFactors read_scalefactors(const std::filesystem::path& path);

// Second and later copies of a name get "-1", "-2", ... (anndata's var_names_make_unique).
std::vector<std::string> make_unique_names(const std::vector<std::string>& names);

Section read_visium(const ManifestSection& ms);

}  // namespace hiscmcl
