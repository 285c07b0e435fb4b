// Writes the HDF5 seeds of fuzz_h5ad and fuzz_10x_h5 at build time (make_seeds.py writes the text
// seeds; Python's h5py is often missing, HDF5's C library never is here):
//   <out>/h5ad/gen-*.h5ad    small AnnData files in the layouts the readers take: a prepared
//                            section (write_prepared_h5ad), CSR X with a CSC counts layer and a
//                            categorical label, and the anndata 0.7 layout (codes + reference)
//   <out>/10x_h5/gen-*.h5    a synthetic 10x matrix (fixed-length strings, contiguous)
//   <out>/10x_h5/real-*.h5   <data>/visium_seurat_fixture/filtered_feature_bc_matrix.h5 cut to
//                            its first barcodes and features, in its own layout (variable-length
//                            strings, chunked + gzip 4, int32), when the data is there
// Small files on purpose: libFuzzer mutates every byte alike, and its input length limit follows
// the largest seed.
//   hdf5_seeds --data ../shared/data --out build/seeds
#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "io/h5ad.h"
#include "io/hdf5_file.h"
#include "io/section.h"
#include "io/visium_reader.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

// ---------------------------------------------------------------- raw HDF5 writes

// A 1-D or 2-D dataset, chunked + deflated when `chunk` > 0.
void dataset(hid_t parent, const char* name, hid_t file_type, hid_t mem_type,
             std::vector<hsize_t> dims, const void* data, hsize_t chunk = 0, int gzip = 4) {
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk > 0 && dims.size() == 1) {
    hsize_t c = std::min<hsize_t>(chunk, std::max<hsize_t>(dims[0], 1));
    H5Pset_chunk(dcpl, 1, &c);
    H5Pset_deflate(dcpl, unsigned(gzip));
  }
  hid_t d = H5Dcreate2(parent, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0 || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw std::runtime_error(std::string("cannot write dataset ") + name);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
}

void strings(hid_t parent, const char* name, const std::vector<std::string>& v, bool fixed,
             hsize_t chunk = 0) {
  hid_t type = H5Tcopy(H5T_C_S1);
  if (fixed) {
    size_t width = 1;
    for (const auto& s : v) width = std::max(width, s.size());
    std::vector<char> buf(v.size() * width, '\0');
    for (size_t i = 0; i < v.size(); ++i) std::memcpy(buf.data() + i * width, v[i].data(), v[i].size());
    H5Tset_size(type, width);
    dataset(parent, name, type, type, {v.size()}, buf.data(), chunk);
  } else {
    H5Tset_size(type, H5T_VARIABLE);
    std::vector<const char*> ptrs;
    for (const auto& s : v) ptrs.push_back(s.c_str());
    dataset(parent, name, type, type, {v.size()}, ptrs.data(), chunk);
  }
  H5Tclose(type);
}

// ---------------------------------------------------------------- 10x

struct Csc {  // features x barcodes
  std::vector<std::string> barcodes, ids, names;
  std::vector<int64_t> indptr, indices;  // per barcode
  std::vector<int32_t> data;
};

// Space Ranger's layout: matrix/{barcodes,data,indices,indptr,shape,features/{id,name,
// feature_type,genome}}. `real_layout`: variable-length strings, chunked + gzip 4, int32 (as the
// fixture); else fixed-length strings, contiguous, int64 indices (older Cell Ranger files).
void write_10x(const fs::path& path, const Csc& m, bool real_layout) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) throw std::runtime_error("cannot create " + path.string());
  hid_t g = H5Gcreate2(f, "matrix", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t feat = H5Gcreate2(g, "features", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const bool fixed = !real_layout;
  const hsize_t chunk = real_layout ? 1024 : 0;
  strings(g, "barcodes", m.barcodes, fixed, chunk);
  strings(feat, "id", m.ids, fixed, chunk);
  strings(feat, "name", m.names, fixed, chunk);
  strings(feat, "feature_type", std::vector<std::string>(m.ids.size(), "Gene Expression"), fixed, chunk);
  strings(feat, "genome", std::vector<std::string>(m.ids.size(), "mm10"), fixed, chunk);
  const hsize_t c = real_layout ? 2048 : 0;
  dataset(g, "data", H5T_STD_I32LE, H5T_NATIVE_INT32, {m.data.size()}, m.data.data(), c);
  const hid_t index_type = real_layout ? H5T_STD_I32LE : H5T_STD_I64LE;
  dataset(g, "indices", index_type, H5T_NATIVE_INT64, {m.indices.size()}, m.indices.data(), c);
  dataset(g, "indptr", index_type, H5T_NATIVE_INT64, {m.indptr.size()}, m.indptr.data(), c);
  const int32_t shape[2] = {int32_t(m.ids.size()), int32_t(m.barcodes.size())};
  dataset(g, "shape", H5T_STD_I32LE, H5T_NATIVE_INT32, {2}, shape, c);
  H5Gclose(feat);
  H5Gclose(g);
  H5Fclose(f);
}

Csc synthetic_10x() {
  Csc m;
  m.barcodes = {"AAACAAGTATCTCCCA-1", "AAACACCAATAACTGC-1", "AAACAGAGCGACTCCT-1"};
  m.ids = {"ENSMUSG00000051951", "ENSMUSG00000089699", "ENSMUSG00000102343", "ENSMUSG00000025900"};
  m.names = {"Xkr4", "Gm1992", "Gm1992", "Rp1"};  // a repeated symbol: made unique
  m.indptr = {0, 2, 2, 5};                          // the second barcode has no counts
  m.indices = {0, 3, 1, 2, 3};
  m.data = {1, 7, 2, 1, 30};
  return m;
}

// The real matrix's first `n_bc` barcodes and first `n_ft` features.
Csc cut_10x(const fs::path& real, size_t n_bc, size_t n_ft) {
  FeatureBarcodeMatrix full = read_10x_h5(real);
  hdf5::File f = hdf5::File::open(real, "a 10x matrix");
  std::vector<std::string> names = f.dataset("matrix/features/name").read_strings();
  n_bc = std::min(n_bc, full.barcodes.size());
  n_ft = std::min(n_ft, full.gene_ids.size());
  Csc m;
  m.barcodes.assign(full.barcodes.begin(), full.barcodes.begin() + long(n_bc));
  m.ids.assign(full.gene_ids.begin(), full.gene_ids.begin() + long(n_ft));
  m.names.assign(names.begin(), names.begin() + long(n_ft));
  m.indptr.push_back(0);
  for (size_t b = 0; b < n_bc; ++b) {
    for (int64_t k = full.counts.indptr[b]; k < full.counts.indptr[b + 1]; ++k)
      if (size_t(full.counts.indices[size_t(k)]) < n_ft) {
        m.indices.push_back(full.counts.indices[size_t(k)]);
        m.data.push_back(int32_t(full.counts.values[size_t(k)]));
      }
    m.indptr.push_back(int64_t(m.indices.size()));
  }
  return m;
}

// ---------------------------------------------------------------- h5ad

PreparedSection prepared(bool full) {
  PreparedSection s;
  s.id = "A1";
  s.patient = "A";
  s.genes = {"ERBB2", "GNAS", "MT-CO1"};
  s.spot_ids = {"10x13", "11x14", "12x13", "9x17"};
  const int64_t n = 4, g = 3;
  s.expression.rows = n;
  s.expression.cols = g;
  // Integer values, so that read_h5ad_section also takes the file's X as counts.
  s.expression.data = {0, 1, 2, 3, 0, 5, 8, 0, 1, 2, 2, 0};
  if (full) s.counts = s.expression;
  s.pixel_xy = {{{1210.5, 830}}, {{1300, 905.25}}, {{1390, 830}}, {{1030, 1130}}};
  if (full) {
    s.array_xy = {{{10, 13}}, {{11, 14}}, {{12, 13}}, {{9, 17}}};
    s.labels = {"invasive cancer", "breast glands", "", "invasive cancer"};
  }
  s.image.image_path = "/data/her2st/HE/A1.jpg";
  s.image.spot_diameter_px = 118.5;
  s.image.um_per_px = 0.85;
  s.image.width = 3000;
  s.image.height = 2800;
  s.image.affine = {1, 0, 0, 0, 1, 0};
  s.normalization = "per_spot";
  return s;
}

void encoding(const hdf5::Object& o, const char* type, const char* version) {
  o.write_attr_string("encoding-type", type);
  o.write_attr_string("encoding-version", version);
}

// X as CSR counts, layers/counts the same matrix as CSC, obs with array_row/array_col and a
// categorical label; `old_categorical`: the anndata 0.7 label (int codes whose `categories`
// attribute references the categories dataset under uns).
void write_sparse_h5ad(const fs::path& path, bool old_categorical) {
  hdf5::File f = hdf5::File::create(path, path.string());
  hdf5::Group root = f.root();
  encoding(root, "anndata", "0.1.0");
  // 3 spots x 4 genes: [[1 0 2 0] [0 0 0 0] [4 1 0 9]]
  const std::vector<std::string> spots = {"AAACAAGTATCTCCCA-1", "AAACACCAATAACTGC-1", "AAACAGAGCGACTCCT-1"};
  const std::vector<std::string> genes = {"Xkr4", "Gm1992", "Sox17", "Mrpl15"};
  auto sparse = [&](const hdf5::Group& parent, const char* name, bool csr) {
    hdf5::Group x = parent.create_group(name);
    encoding(x, csr ? "csr_matrix" : "csc_matrix", "0.1.0");
    const hsize_t two = 2;
    const int64_t shape[2] = {3, 4};
    hid_t space = H5Screate_simple(1, &two, nullptr);
    hid_t a = H5Acreate2(x.id(), "shape", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, shape);
    H5Aclose(a);
    H5Sclose(space);
    if (csr) {
      const float data[5] = {1, 2, 4, 1, 9};
      const int64_t indices[5] = {0, 2, 0, 1, 3}, indptr[4] = {0, 2, 2, 5};
      x.write_numbers<float>("data", {5}, data);
      x.write_numbers<int64_t>("indices", {5}, indices);
      x.write_numbers<int64_t>("indptr", {4}, indptr);
    } else {
      const float data[5] = {1, 4, 1, 2, 9};
      const int64_t indices[5] = {0, 2, 2, 0, 2}, indptr[5] = {0, 2, 3, 4, 5};
      x.write_numbers<float>("data", {5}, data);
      x.write_numbers<int64_t>("indices", {5}, indices);
      x.write_numbers<int64_t>("indptr", {5}, indptr);
    }
  };
  sparse(root, "X", true);
  hdf5::Group layers = root.create_group("layers");
  encoding(layers, "dict", "0.1.0");
  sparse(layers, "counts", false);

  hdf5::Group obs = root.create_group("obs");
  encoding(obs, "dataframe", "0.2.0");
  obs.write_attr_string("_index", "_index");
  encoding(obs.write_strings("_index", spots), "string-array", "0.2.0");
  const double rows[3] = {0, 50, 3}, cols[3] = {102, 102, 43};
  encoding(obs.write_numbers<double>("array_row", {3}, rows), "array", "0.2.0");
  encoding(obs.write_numbers<double>("array_col", {3}, cols), "array", "0.2.0");
  const int64_t codes[3] = {1, -1, 0};
  const std::vector<std::string> categories = {"cortex", "white matter"};
  hdf5::Group uns = root.create_group("uns");
  encoding(uns, "dict", "0.1.0");
  if (old_categorical) {
    hdf5::Dataset cats = uns.write_strings("label_categories", categories);
    hdf5::Dataset c = obs.write_numbers<int64_t>("label", {3}, codes);
    hobj_ref_t ref{};
    H5Rcreate(&ref, f.root().id(), "/uns/label_categories", H5R_OBJECT, -1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(c.id(), "categories", H5T_STD_REF_OBJ, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_STD_REF_OBJ, &ref);
    H5Aclose(a);
    H5Sclose(space);
    (void)cats;
  } else {
    hdf5::Group label = obs.create_group("label");
    encoding(label, "categorical", "0.2.0");
    // ordered = False, as h5py stores a bool (an int8 enum FALSE/TRUE).
    hid_t boolean = H5Tenum_create(H5T_NATIVE_INT8);
    const int8_t no = 0, yes = 1;
    H5Tenum_insert(boolean, "FALSE", &no);
    H5Tenum_insert(boolean, "TRUE", &yes);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(label.id(), "ordered", boolean, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, boolean, &no);
    H5Aclose(a);
    H5Sclose(scalar);
    H5Tclose(boolean);
    encoding(label.write_numbers<int64_t>("codes", {3}, codes), "array", "0.2.0");
    encoding(label.write_strings("categories", categories), "string-array", "0.2.0");
  }
  obs.write_attr_strings("column-order", {"array_row", "array_col", "label"});

  hdf5::Group var = root.create_group("var");
  encoding(var, "dataframe", "0.2.0");
  var.write_attr_string("_index", "_index");
  encoding(var.write_strings("_index", genes), "string-array", "0.2.0");
  var.write_attr_strings("column-order", {});

  hdf5::Group obsm = root.create_group("obsm");
  encoding(obsm, "dict", "0.1.0");
  const double xy[6] = {8412.25, 2640, 2501, 16110.5, 3020, 7512};
  encoding(obsm.write_numbers<double>("spatial", {3, 2}, xy), "array", "0.2.0");
  f.flush();
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data, out;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--data") == 0) data = argv[i + 1];
    if (std::strcmp(argv[i], "--out") == 0) out = argv[i + 1];
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: hdf5_seeds [--data ../shared/data] --out SEED_DIR\n");
    return 2;
  }
  try {
    fs::create_directories(out / "h5ad");
    fs::create_directories(out / "10x_h5");
    write_prepared_h5ad(out / "h5ad" / "gen-prepared.h5ad", prepared(true));
    write_prepared_h5ad(out / "h5ad" / "gen-prepared-bare.h5ad", prepared(false));
    write_sparse_h5ad(out / "h5ad" / "gen-csr-csc-categorical.h5ad", false);
    write_sparse_h5ad(out / "h5ad" / "gen-anndata07-categorical.h5ad", true);
    write_10x(out / "10x_h5" / "gen-fixed-strings.h5", synthetic_10x(), false);
    write_10x(out / "10x_h5" / "gen-chunked.h5", synthetic_10x(), true);
    const fs::path real = data / "visium_seurat_fixture" / "filtered_feature_bc_matrix.h5";
    std::error_code ec;
    if (!data.empty() && fs::exists(real, ec))
      write_10x(out / "10x_h5" / "real-filtered_feature_bc_matrix.h5", cut_10x(real, 8, 24), true);
  } catch (const std::exception& e) {
    // Seeds are a help, not a requirement: the fuzzers start from the committed ones.
    std::fprintf(stderr, "hdf5_seeds: %s; HDF5 seeds incomplete\n", e.what());
  }
  for (const char* t : {"h5ad", "10x_h5"}) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(out / t, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    std::printf("hdf5_seeds: %-20s %2zu seeds (committed + generated)\n", t, n);
  }
  return 0;
}
