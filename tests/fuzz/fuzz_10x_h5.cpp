// read_10x_h5 on an in-memory filtered_feature_bc_matrix.h5 (HDF5 core driver): Space Ranger /
// Cell Ranger v3+ CSC features x barcodes, read as CSR barcodes x genes.
#include <cmath>
#include <exception>
#include <unordered_set>

#include "hdf5_checks.h"
#include "io/hdf5_file.h"
#include "io/visium_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    hiscmcl::FeatureBarcodeMatrix m = hiscmcl::read_10x_h5(hiscmcl::hdf5::File::open_image(
        data, size, "filtered_feature_bc_matrix.h5", "a 10x feature-barcode matrix"));
    const int64_t n = int64_t(m.barcodes.size()), g = int64_t(m.genes.size());
    FUZZ_CHECK(m.gene_ids.size() == size_t(g));
    hiscmcl::fuzz::check_csr(m.counts, n, g);
    for (float v : m.counts.values) FUZZ_CHECK(std::isfinite(v) && v >= 0);
    // Gene names are made unique; barcodes are checked unique.
    FUZZ_CHECK(std::unordered_set<std::string>(m.genes.begin(), m.genes.end()).size() == size_t(g));
    FUZZ_CHECK(std::unordered_set<std::string>(m.barcodes.begin(), m.barcodes.end()).size() ==
               size_t(n));
  } catch (const std::exception&) {
  }
  return 0;
}
