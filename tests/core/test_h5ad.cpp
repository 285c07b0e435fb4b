// AnnData .h5ad: bit-exact round trip of a PreparedSection, anndata opens what we write, we
// read what anndata writes (dense, CSR, CSC, categorical labels), corrupt files are InputErrors.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/h5ad.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

PreparedSection sample_section() {
  PreparedSection s;
  s.id = "C2";
  s.patient = "C";
  s.genes = {"ERBB2", "KRT5", "HLA-DRA", "Gène"};  // non-ASCII survives as UTF-8
  s.spot_ids = {"10x13", "11x14", "12x15"};
  s.expression = Matrix(3, 4);
  s.counts = Matrix(3, 4);
  for (int i = 0; i < 12; ++i) {
    s.expression.data[size_t(i)] = 0.1f * float(i) + 1e-7f;
    s.counts.data[size_t(i)] = float(i % 5);
  }
  s.array_xy = {{10, 13}, {11, 14}, {12, 15}};
  s.pixel_xy = {{1234.5, 2000.25}, {1500.125, 2100.0}, {1.0 / 3.0, 2.0 / 3.0}};
  s.labels = {"invasive cancer", "", "immune infiltrate"};
  s.clusters = {"3", "0", "undetermined"};
  s.image.image_path = "/data/her2st/C2.jpg";
  s.image.spot_diameter_px = 136.25;
  s.image.um_per_px = 0.735;
  s.image.affine = {0.287604, 0, 1.5, 0, 0.287604, -2.25};
  s.image.width = 9274;
  s.image.height = 9911;
  s.normalization = "per_spot";
  return s;
}

}  // namespace

TEST(H5ad, PreparedSectionRoundTripIsBitExact) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  write_prepared_h5ad(tmp / "C2.h5ad", s);
  EXPECT_FALSE(fs::exists(tmp / ("C2.h5ad.tmp" + std::to_string(::getpid())))) << "temp renamed";
  PreparedSection r = read_prepared_h5ad(tmp / "C2.h5ad");
  EXPECT_EQ(r.id, s.id);
  EXPECT_EQ(r.patient, s.patient);
  EXPECT_EQ(r.genes, s.genes);
  EXPECT_EQ(r.spot_ids, s.spot_ids);
  ASSERT_EQ(r.expression.rows, 3);
  ASSERT_EQ(r.expression.cols, 4);
  EXPECT_EQ(0, std::memcmp(r.expression.data.data(), s.expression.data.data(), 12 * sizeof(float)));
  EXPECT_EQ(r.counts.data, s.counts.data);
  EXPECT_EQ(r.array_xy, s.array_xy);
  EXPECT_EQ(r.pixel_xy, s.pixel_xy);  // doubles compared exactly
  EXPECT_EQ(r.labels, s.labels);
  EXPECT_EQ(r.clusters, s.clusters);
  EXPECT_EQ(r.image.image_path, s.image.image_path);
  EXPECT_EQ(r.image.spot_diameter_px, s.image.spot_diameter_px);
  EXPECT_EQ(r.image.um_per_px, s.image.um_per_px);
  EXPECT_EQ(r.image.affine, s.image.affine);
  EXPECT_EQ(r.image.width, 9274);
  EXPECT_EQ(r.image.height, 9911);
  EXPECT_EQ(r.normalization, "per_spot");
}

TEST(H5ad, OptionalPartsMayBeAbsent) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  s.counts = Matrix();
  s.labels.clear();
  s.array_xy.clear();
  write_prepared_h5ad(tmp / "p.h5ad", s);
  PreparedSection r = read_prepared_h5ad(tmp / "p.h5ad");
  EXPECT_TRUE(r.counts.data.empty());
  EXPECT_TRUE(r.labels.empty());
  EXPECT_TRUE(r.array_xy.empty());
  EXPECT_EQ(r.pixel_xy, s.pixel_xy);
}

TEST(H5ad, InconsistentSectionIsRefusedWithoutOutput) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  s.pixel_xy.pop_back();
  EXPECT_THROW(write_prepared_h5ad(tmp / "bad.h5ad", s), InputError);
  s = sample_section();
  s.obs_categoricals = {{"region", {"1", "2"}, {0, 2, 1}}};  // code 2 has no category
  EXPECT_THROW(write_prepared_h5ad(tmp / "bad.h5ad", s), InputError);
  s.obs_categoricals = {{"cluster", {"1", "2"}, {0, 1, 1}}};  // would replace the fixed column
  EXPECT_THROW(write_prepared_h5ad(tmp / "bad.h5ad", s), InputError);
  EXPECT_TRUE(fs::is_empty(tmp.path)) << "no partial output";
}

TEST(H5ad, AnndataOpensWhatWeWrite) {
  const std::string py = test::python_with("anndata");
  if (py.empty()) GTEST_SKIP() << "python3-anndata is absent (scripts/setup.sh installs it where Debian has it: 12, not 13)";
  test::TempDir tmp;
  PreparedSection s = sample_section();
  s.obs_categoricals = {{"region", {"1", "2"}, {1, -1, 0}}};
  write_prepared_h5ad(tmp / "C2.h5ad", s);
  std::ofstream(tmp / "check.py")
      << "import sys, json, anndata\n"
         "a = anndata.read_h5ad(sys.argv[1])\n"
         "r = a.obs['region']\n"
         "print(json.dumps({'region_dtype': r.dtype.name, 'region': [str(x) for x in r.astype(object)],\n"
         "  'ordered': bool(r.cat.ordered), 'cluster': [str(x) for x in a.obs['cluster']],\n"
         "  'shape': list(a.shape), 'var': list(a.var_names),\n"
         "  'obs': list(a.obs_names), 'spatial': a.obsm['spatial'].tolist(),\n"
         "  'X': a.X.tolist(), 'counts': a.layers['counts'].tolist(),\n"
         "  'label': [str(x) for x in a.obs['label']], 'array_x': a.obs['array_x'].tolist(),\n"
         "  'section_id': str(a.uns['section_id']), 'width': int(a.uns['image_width']),\n"
         "  'diameter': float(a.uns['spot_diameter_px']), 'affine': list(a.uns['affine'])}))\n";
  auto res = test::run_command(py + " " + (tmp / "check.py").string() + " " +
                               (tmp / "C2.h5ad").string() + " 2>/dev/null");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  auto j = nlohmann::json::parse(res.output);
  EXPECT_EQ(j["shape"], nlohmann::json({3, 4}));
  EXPECT_EQ(j["var"].get<std::vector<std::string>>(), s.genes);
  EXPECT_EQ(j["obs"].get<std::vector<std::string>>(), s.spot_ids);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["spatial"][i][0].get<double>(), s.pixel_xy[size_t(i)][0]);
    EXPECT_EQ(j["spatial"][i][1].get<double>(), s.pixel_xy[size_t(i)][1]);
    EXPECT_EQ(j["array_x"][i].get<double>(), s.array_xy[size_t(i)][0]);
    for (int g = 0; g < 4; ++g) {
      EXPECT_EQ(j["X"][i][g].get<float>(), s.expression(i, g));
      EXPECT_EQ(j["counts"][i][g].get<float>(), s.counts(i, g));
    }
  }
  EXPECT_EQ(j["label"].get<std::vector<std::string>>(), s.labels);
  EXPECT_EQ(j["cluster"].get<std::vector<std::string>>(), s.clusters);
  EXPECT_EQ(j["region_dtype"], "category");
  EXPECT_EQ(j["region"], nlohmann::json({"2", "nan", "1"}));  // code -1: missing
  EXPECT_EQ(j["ordered"], false);
  EXPECT_EQ(j["section_id"], "C2");
  EXPECT_EQ(j["width"], 9274);
  EXPECT_EQ(j["diameter"].get<double>(), 136.25);
  EXPECT_EQ(j["affine"][2].get<double>(), 1.5);
}

TEST(H5ad, ReadsSectionsAnndataWrites) {
  const std::string py = test::python_with("anndata");
  if (py.empty()) GTEST_SKIP() << "python3-anndata is absent (scripts/setup.sh installs it where Debian has it: 12, not 13)";
  test::TempDir tmp;
  std::ofstream(tmp / "make.py")
      << "import sys, numpy as np, pandas as pd, scipy.sparse as sp, anndata\n"
         "d = np.array([[1, 0, 2], [0, 0, 3]], dtype=np.int64)\n"
         "obs = pd.DataFrame({'array_row': [5, 6], 'array_col': [7, 8],\n"
         "  'label': pd.Categorical(['tumour', 'stroma'])}, index=['s1', 's2'])\n"
         "var = pd.DataFrame(index=['G1', 'G2', 'G3'])\n"
         "for name, X in [('csr', sp.csr_matrix(d)), ('csc', sp.csc_matrix(d)),\n"
         "                ('dense', d.astype(np.float64))]:\n"
         "    a = anndata.AnnData(X=X, obs=obs.copy(), var=var.copy())\n"
         "    a.obsm['spatial'] = np.array([[10.5, 20.0], [30.0, 40.0]])\n"
         "    a.write_h5ad(sys.argv[1] + '/' + name + '.h5ad')\n";
  auto res = test::run_command(py + " " + (tmp / "make.py").string() + " " + tmp.path.string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  for (const char* name : {"csr", "csc", "dense"}) {
    SCOPED_TRACE(name);
    Section s = read_h5ad_section(tmp / (std::string(name) + ".h5ad"));
    EXPECT_EQ(s.id, name);
    EXPECT_EQ(s.spot_ids, (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(s.genes, (std::vector<std::string>{"G1", "G2", "G3"}));
    Matrix m = s.counts.dense();
    EXPECT_EQ(m.data, (std::vector<float>{1, 0, 2, 0, 0, 3}));
    ASSERT_EQ(s.pixel_xy.size(), 2u);
    EXPECT_EQ(s.pixel_xy[0][0], 10.5);
    EXPECT_EQ(s.pixel_xy[1][1], 40.0);
    ASSERT_EQ(s.array_xy.size(), 2u);
    EXPECT_EQ(s.array_xy[0][0], 7);  // x = array_col
    EXPECT_EQ(s.array_xy[0][1], 5);  // y = array_row
    EXPECT_EQ(s.labels, (std::vector<std::string>{"tumour", "stroma"}));
  }
}

TEST(H5ad, CorruptOrForeignFilesAreInputErrors) {
  test::TempDir tmp;
  std::ofstream(tmp / "text.h5ad") << "this is not HDF5";
  std::string msg = test::input_error_of([&] { read_h5ad_section(tmp / "text.h5ad"); });
  EXPECT_NE(msg.find("text.h5ad"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;

  // A valid HDF5 file that is not AnnData: names the file and the missing dataset.
  {
    hid_t f = H5Fcreate((tmp / "other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "matrix", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
  }
  msg = test::input_error_of([&] { read_h5ad_section(tmp / "other.h5"); });
  EXPECT_NE(msg.find("other.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dataset /obs"), std::string::npos) << msg;
  msg = test::input_error_of([&] { read_prepared_h5ad(tmp / "other.h5"); });
  EXPECT_NE(msg.find("other.h5"), std::string::npos) << msg;

  // A truncated store file.
  write_prepared_h5ad(tmp / "whole.h5ad", sample_section());
  fs::copy_file(tmp / "whole.h5ad", tmp / "cut.h5ad");
  fs::resize_file(tmp / "cut.h5ad", fs::file_size(tmp / "whole.h5ad") / 2);
  msg = test::input_error_of([&] { read_prepared_h5ad(tmp / "cut.h5ad"); });
  EXPECT_NE(msg.find("cut.h5ad"), std::string::npos) << msg;

  msg = test::input_error_of([&] { read_h5ad_section(tmp / "missing.h5ad"); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

namespace {

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

std::string number_text(float v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

TEST(H5ad, DuplicateObsOrVarNamesAreErrors) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  s.spot_ids[2] = s.spot_ids[0];
  write_prepared_h5ad(tmp / "obs.h5ad", s);
  for (auto read : {+[](const fs::path& p) { read_h5ad_section(p, {"counts", false}); },
                    +[](const fs::path& p) { read_prepared_h5ad(p); }}) {
    std::string msg = test::input_error_of([&] { read(tmp / "obs.h5ad"); });
    EXPECT_TRUE(has(msg, (tmp / "obs.h5ad").string() + " (dataset /obs/_index)")) << msg;
    EXPECT_TRUE(has(msg, "duplicate obs name '" + s.spot_ids[0] + "' (entries 0 and 2)")) << msg;
  }
  s = sample_section();
  s.genes[3] = s.genes[1];
  write_prepared_h5ad(tmp / "var.h5ad", s);
  std::string msg = test::input_error_of([&] { read_h5ad_section(tmp / "var.h5ad", {"counts", false}); });
  EXPECT_TRUE(has(msg, (tmp / "var.h5ad").string() + " (dataset /var/_index)")) << msg;
  EXPECT_TRUE(has(msg, "duplicate var name '" + s.genes[1] + "'")) << msg;
}

TEST(H5ad, NormalisedXIsRefusedUnlessTheManifestSaysWhereTheCountsAre) {
  test::TempDir tmp;
  PreparedSection s = sample_section();  // X: normalised floats; layers/counts: integers
  write_prepared_h5ad(tmp / "n.h5ad", s);
  std::string msg = test::input_error_of([&] { read_h5ad_section(tmp / "n.h5ad"); });
  EXPECT_TRUE(has(msg, (tmp / "n.h5ad").string())) << msg;
  // The first non-integer value in row-major order, with its spot and gene.
  size_t k = 0;
  while (s.expression.data[k] == std::floor(s.expression.data[k])) ++k;
  EXPECT_TRUE(has(msg, "X is not raw counts (found value " + number_text(s.expression.data[k]) +
                           " at spot '" + s.spot_ids[k / 4] + "', gene '" + s.genes[k % 4] + "')"))
      << msg;
  EXPECT_TRUE(has(msg, "set counts_layer = \"NAME\" in the manifest to read layers/NAME")) << msg;
  EXPECT_TRUE(has(msg, "layers here: counts")) << msg;
  EXPECT_TRUE(has(msg, "assume_normalised = true")) << msg;

  Section c = read_h5ad_section(tmp / "n.h5ad", {"counts", false});
  EXPECT_EQ(c.counts.dense().data, s.counts.data);
  Section x = read_h5ad_section(tmp / "n.h5ad", {"", true});
  EXPECT_EQ(x.counts.dense().data, s.expression.data);

  msg = test::input_error_of([&] { read_h5ad_section(tmp / "n.h5ad", {"raw", false}); });
  EXPECT_TRUE(has(msg, "counts_layer = \"raw\" but there is no layers/raw (layers here: counts)")) << msg;

  // A layer that is not counts either is refused, naming the layer.
  s.counts.data[5] = 2.5f;
  write_prepared_h5ad(tmp / "l.h5ad", s);
  msg = test::input_error_of([&] { read_h5ad_section(tmp / "l.h5ad", {"counts", false}); });
  EXPECT_TRUE(has(msg, "layers/counts is not raw counts (found value 2.5 at spot '" +
                           s.spot_ids[1] + "', gene '" + s.genes[1] + "')"))
      << msg;

  // assume_normalised takes X as it is, but not negative (scaled) values.
  s = sample_section();
  s.expression.data[6] = -0.25f;
  write_prepared_h5ad(tmp / "neg.h5ad", s);
  msg = test::input_error_of([&] { read_h5ad_section(tmp / "neg.h5ad", {"", true}); });
  EXPECT_TRUE(has(msg, "found -0.25 at spot '" + s.spot_ids[1] + "', gene '" + s.genes[2] + "'")) << msg;
}

TEST(H5ad, ManifestCountsLayerReachesTheReader) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  write_prepared_h5ad(tmp / "n.h5ad", s);
  std::ofstream(tmp / "m.toml") << "[[section]]\nid = \"A\"\nformat = \"h5ad\"\nfile = \"n.h5ad\"\n"
                                   "counts_layer = \"counts\"\n"
                                   "[[section]]\nid = \"B\"\nformat = \"h5ad\"\nfile = \"n.h5ad\"\n"
                                   "assume_normalised = true\n"
                                   "[[section]]\nid = \"C\"\nformat = \"h5ad\"\nfile = \"n.h5ad\"\n";
  Manifest m = load_manifest(tmp / "m.toml");
  EXPECT_EQ(read_section(m.section("A")).counts.dense().data, s.counts.data);
  EXPECT_EQ(read_section(m.section("B")).counts.dense().data, s.expression.data);
  std::string msg = test::input_error_of([&] { read_section(m.section("C")); });
  EXPECT_TRUE(has(msg, "X is not raw counts")) << msg;
}

TEST(H5ad, SparseNormalisedXFromAnndataIsRefused) {
  const std::string py = test::python_with("anndata");
  if (py.empty()) GTEST_SKIP() << "python3-anndata is absent (scripts/setup.sh installs it where Debian has it: 12, not 13)";
  test::TempDir tmp;
  std::ofstream(tmp / "make.py")
      << "import sys, numpy as np, pandas as pd, scipy.sparse as sp, anndata\n"
         "counts = np.array([[1, 0, 2], [0, 0, 3]], dtype=np.float32)\n"
         "X = sp.csr_matrix(np.log1p(counts))\n"
         "a = anndata.AnnData(X=X, obs=pd.DataFrame(index=['s1', 's2']),\n"
         "                    var=pd.DataFrame(index=['G1', 'G2', 'G3']))\n"
         "a.layers['counts'] = sp.csr_matrix(counts)\n"
         "a.obsm['spatial'] = np.array([[10.5, 20.0], [30.0, 40.0]])\n"
         "a.write_h5ad(sys.argv[1])\n";
  auto res = test::run_command(py + " " + (tmp / "make.py").string() + " " + (tmp / "a.h5ad").string());
  ASSERT_EQ(res.exit_code, 0) << res.output;
  std::string msg = test::input_error_of([&] { read_h5ad_section(tmp / "a.h5ad"); });
  EXPECT_TRUE(has(msg, "X is not raw counts (found value " + number_text(std::log1p(1.f)) +
                           " at spot 's1', gene 'G1')"))
      << msg;
  Section s = read_h5ad_section(tmp / "a.h5ad", {"counts", false});
  EXPECT_EQ(s.counts.dense().data, (std::vector<float>{1, 0, 2, 0, 0, 3}));
}

TEST(H5ad, WrongTypesAndShapesNameTheDataset) {
  test::TempDir tmp;
  PreparedSection s = sample_section();
  write_prepared_h5ad(tmp / "a.h5ad", s);
  // Replace obs/_index by numbers and X by a 1-D array.
  hid_t f = H5Fopen((tmp / "a.h5ad").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "obs/_index", H5P_DEFAULT);
  hsize_t n = 3;
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f, "obs/_index", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Fclose(f);
  std::string msg = test::input_error_of([&] { read_prepared_h5ad(tmp / "a.h5ad"); });
  EXPECT_TRUE(has(msg, "(dataset /obs/_index): expected strings, found integers")) << msg;

  write_prepared_h5ad(tmp / "b.h5ad", s);
  f = H5Fopen((tmp / "b.h5ad").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "X", H5P_DEFAULT);
  n = 12;
  H5Sset_extent_simple(sp, 1, &n, nullptr);
  d = H5Dcreate2(f, "X", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  msg = test::input_error_of([&] { read_prepared_h5ad(tmp / "b.h5ad"); });
  EXPECT_TRUE(has(msg, "(dataset /X): expected a 2-D array of shape 3x4, found shape 12")) << msg;
}
