// The AnnData readers on an in-memory .h5ad (HDF5 core driver): read_prepared_h5ad (the dataset
// store's prepared sections) and read_h5ad_section (format = "h5ad" manifests), the latter as
// the manifest reads X and as it reads layers/counts with assume_normalised.
#include <cmath>
#include <exception>

#include "hdf5_checks.h"
#include "io/hdf5_file.h"
#include "io/h5ad.h"

namespace {

void check_section(const hiscmcl::Section& s, const hiscmcl::H5adCountsSource& src) {
  const int64_t n = s.n_spots(), g = s.n_genes();
  FUZZ_CHECK(n > 0);
  FUZZ_CHECK(s.id == "fuzz");
  hiscmcl::fuzz::check_csr(s.counts, n, g);
  for (float v : s.counts.values) {
    FUZZ_CHECK(std::isfinite(v) && v >= 0);
    if (!src.assume_normalised) FUZZ_CHECK(v == std::floor(v));
  }
  FUZZ_CHECK(s.pixel_xy.size() == size_t(n));
  FUZZ_CHECK(s.array_xy.size() == size_t(n));
  FUZZ_CHECK(s.labels.empty() || s.labels.size() == size_t(n));
}

void check_prepared(const hiscmcl::PreparedSection& s) {
  const int64_t n = s.n_spots(), g = int64_t(s.genes.size());
  FUZZ_CHECK(s.expression.rows == n && s.expression.cols == g);
  FUZZ_CHECK(s.expression.data.size() == size_t(n) * size_t(g));
  if (!s.counts.data.empty()) {
    FUZZ_CHECK(s.counts.rows == n && s.counts.cols == g);
    FUZZ_CHECK(s.counts.data.size() == size_t(n) * size_t(g));
  }
  FUZZ_CHECK(s.pixel_xy.size() == size_t(n));
  FUZZ_CHECK(s.array_xy.empty() || s.array_xy.size() == size_t(n));
  FUZZ_CHECK(s.labels.empty() || s.labels.size() == size_t(n));
  FUZZ_CHECK(s.image.width >= 0 && s.image.height >= 0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto open = [&] { return hiscmcl::hdf5::File::open_image(data, size, "fuzz.h5ad", "an AnnData file"); };
  try {
    check_prepared(hiscmcl::read_prepared_h5ad(open()));
  } catch (const std::exception&) {
  }
  for (const hiscmcl::H5adCountsSource& src :
       {hiscmcl::H5adCountsSource{}, hiscmcl::H5adCountsSource{"counts", true}}) {
    try {
      check_section(hiscmcl::read_h5ad_section(open(), src), src);
    } catch (const std::exception&) {
    }
  }
  return 0;
}
