// Visium reader on the real Seurat fixture (values checked with h5py and awk) and on a hand-made
// Space Ranger folder using the mtx matrix and v2 positions.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "io/visium_reader.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

float count_at(const SparseCounts& c, int64_t r, int64_t col) {
  for (int64_t k = c.indptr[size_t(r)]; k < c.indptr[size_t(r) + 1]; ++k)
    if (c.indices[size_t(k)] == col) return c.values[size_t(k)];
  return 0;
}

void write_gz(const fs::path& p, const std::string& text) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, text.data(), unsigned(text.size()));
  gzclose(f);
}

// A 10x feature-barcode matrix as Cell Ranger writes it (fixed-length strings, CSC features x
// barcodes), straight through the HDF5 C API.
struct Tiny10x {
  std::vector<std::string> barcodes = {"AAA-1", "CCC-1", "GGG-1"};
  std::vector<std::string> ids = {"ENSG1", "ENSG2"}, names = {"GeneA", "GeneA"};
  std::vector<int32_t> data = {4, 1, 9}, indices = {0, 1, 1}, indptr = {0, 2, 2, 3};

  void write(const fs::path& p) const {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t m = H5Gcreate2(f, "matrix", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t ft = H5Gcreate2(m, "features", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    auto strings = [](hid_t g, const char* name, const std::vector<std::string>& v) {
      size_t width = 1;
      for (const auto& x : v) width = std::max(width, x.size());
      std::vector<char> buf(v.size() * width, '\0');
      for (size_t i = 0; i < v.size(); ++i) std::memcpy(buf.data() + i * width, v[i].data(), v[i].size());
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, width);
      hsize_t n = v.size();
      hid_t sp = H5Screate_simple(1, &n, nullptr);
      hid_t d = H5Dcreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
      H5Dclose(d), H5Sclose(sp), H5Tclose(t);
    };
    auto ints = [](hid_t g, const char* name, const std::vector<int32_t>& v) {
      hsize_t n = v.size();
      hid_t sp = H5Screate_simple(1, &n, nullptr);
      hid_t d = H5Dcreate2(g, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      H5Dclose(d), H5Sclose(sp);
    };
    strings(m, "barcodes", barcodes);
    strings(ft, "id", ids);
    strings(ft, "name", names);
    ints(m, "data", data);
    ints(m, "indices", indices);
    ints(m, "indptr", indptr);
    ints(m, "shape", {int32_t(ids.size()), int32_t(barcodes.size())});
    H5Gclose(ft), H5Gclose(m), H5Fclose(f);
  }
};

}  // namespace

TEST(Visium, Tiny10xH5WithFixedLengthStrings) {
  test::TempDir tmp;
  Tiny10x t;
  t.write(tmp / "m.h5");
  FeatureBarcodeMatrix m = read_10x_h5(tmp / "m.h5");
  EXPECT_EQ(m.barcodes, t.barcodes);
  EXPECT_EQ(m.gene_ids, t.ids);
  EXPECT_EQ(m.genes, (std::vector<std::string>{"GeneA", "GeneA-1"}));  // symbols made unique
  ASSERT_EQ(m.counts.rows, 3);
  EXPECT_EQ(count_at(m.counts, 0, 0), 4.f);
  EXPECT_EQ(count_at(m.counts, 0, 1), 1.f);
  EXPECT_EQ(count_at(m.counts, 1, 1), 0.f);
  EXPECT_EQ(count_at(m.counts, 2, 1), 9.f);
}

TEST(Visium, DuplicateBarcodeOrFeatureIdInH5IsAnError) {
  test::TempDir tmp;
  Tiny10x t;
  t.barcodes[2] = "AAA-1";
  t.write(tmp / "bc.h5");
  std::string msg = test::input_error_of([&] { read_10x_h5(tmp / "bc.h5"); });
  EXPECT_NE(msg.find((tmp / "bc.h5").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("dataset /matrix/barcodes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate barcode 'AAA-1' (entries 0 and 2)"), std::string::npos) << msg;

  t = Tiny10x();
  t.ids[1] = "ENSG1";
  t.write(tmp / "ft.h5");
  msg = test::input_error_of([&] { read_10x_h5(tmp / "ft.h5"); });
  EXPECT_NE(msg.find((tmp / "ft.h5").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("dataset /matrix/features/id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate feature id 'ENSG1'"), std::string::npos) << msg;
}

TEST(Visium, WrongShapesInH5AreCheckedBeforeReading) {
  test::TempDir tmp;
  Tiny10x t;
  t.indptr.pop_back();  // barcodes + 1 offsets expected
  t.write(tmp / "a.h5");
  std::string msg = test::input_error_of([&] { read_10x_h5(tmp / "a.h5"); });
  EXPECT_NE(msg.find("dataset /matrix/indptr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape 4, found shape 3"), std::string::npos) << msg;

  t = Tiny10x();
  t.names.push_back("Extra");  // shape says 2 features
  t.write(tmp / "b.h5");
  msg = test::input_error_of([&] { read_10x_h5(tmp / "b.h5"); });
  EXPECT_NE(msg.find("dataset /matrix/features/name"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 3 strings, expected 2"), std::string::npos) << msg;
}

TEST(Visium, DuplicateBarcodeOrFeatureIdInMtxIsAnError) {
  test::TempDir tmp;
  fs::create_directories(tmp / "mtx");
  std::ofstream(tmp / "mtx/matrix.mtx") << "%%MatrixMarket matrix coordinate integer general\n2 3 1\n1 1 2\n";
  std::ofstream(tmp / "mtx/barcodes.tsv") << "AAA-1\nCCC-1\nAAA-1\n";
  std::ofstream(tmp / "mtx/features.tsv") << "E1\tG1\tGene Expression\nE2\tG1\tGene Expression\n";
  std::string msg = test::input_error_of([&] { read_10x_mtx(tmp / "mtx"); });
  EXPECT_NE(msg.find((tmp / "mtx/barcodes.tsv").string() + " (line 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate barcode 'AAA-1' (first on line 1)"), std::string::npos) << msg;

  std::ofstream(tmp / "mtx/barcodes.tsv") << "AAA-1\nCCC-1\nGGG-1\n";
  EXPECT_EQ(read_10x_mtx(tmp / "mtx").genes, (std::vector<std::string>{"G1", "G1-1"}));
  std::ofstream(tmp / "mtx/features.tsv") << "E1\tG1\tGene Expression\nE1\tG2\tGene Expression\n";
  msg = test::input_error_of([&] { read_10x_mtx(tmp / "mtx"); });
  EXPECT_NE(msg.find((tmp / "mtx/features.tsv").string() + " (line 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate feature id 'E1'"), std::string::npos) << msg;
}

TEST(Visium, MakeUniqueNamesLikeAnndata) {
  EXPECT_EQ(make_unique_names({"A", "B", "A", "A", "A-1"}),
            (std::vector<std::string>{"A", "B", "A-2", "A-3", "A-1"}));
  EXPECT_EQ(make_unique_names({"X", "X"}), (std::vector<std::string>{"X", "X-1"}));
}

TEST(Visium, SeuratFixture) {
  HISCMCL_REQUIRE_DATA("visium_seurat_fixture");
  Manifest m = load_manifest(fs::path(HISCMCL_SOURCE_DIR) / "configs/visium_fixture.toml",
                             test::shared_data() / "visium_seurat_fixture");
  Section s = read_section(m.sections[0]);
  EXPECT_EQ(s.n_genes(), 100);
  // awk -F, '$2==1' tissue_positions_list.csv | wc -l: 2695, all of them in the matrix.
  EXPECT_EQ(s.n_spots(), 2695);
  EXPECT_EQ(s.genes[0], "Xkr4");
  EXPECT_EQ(s.genes[12], "Atp6v1h");
  // h5py: barcode 0 AAACAAGTATCTCCCA-1 has 5 counts of Atp6v1h (its largest); barcode 100
  // AAGGAGCGGTTGGTGC-1 has 7 of Rpl7 (feature 61).
  EXPECT_EQ(s.spot_ids[0], "AAACAAGTATCTCCCA-1");
  EXPECT_EQ(count_at(s.counts, 0, 12), 5.f);
  EXPECT_EQ(s.spot_ids[100], "AAGGAGCGGTTGGTGC-1");
  EXPECT_EQ(count_at(s.counts, 100, 61), 7.f);
  // Row: AAACAAGTATCTCCCA-1,1,50,102,7475,8501; lowres scale 0.051635113.
  EXPECT_EQ(s.array_xy[0][0], 102);  // array_col
  EXPECT_EQ(s.array_xy[0][1], 50);   // array_row
  EXPECT_NEAR(s.pixel_xy[0][0], 8501 * 0.051635113, 1e-9);
  EXPECT_NEAR(s.pixel_xy[0][1], 7475 * 0.051635113, 1e-9);
  EXPECT_EQ(s.image.width, 600);
  EXPECT_EQ(s.image.height, 599);
  EXPECT_NE(s.image.image_path.find("tissue_lowres_image.png"), std::string::npos);
  EXPECT_NEAR(s.image.spot_diameter_px, 96.3607212981978 * 0.051635113, 1e-9);
  EXPECT_NEAR(s.image.um_per_px, 55.0 / (96.3607212981978 * 0.051635113), 1e-9);
}

TEST(Visium, MtxFolderAndV2PositionsWithHiresImage) {
  test::TempDir tmp;
  fs::create_directories(tmp / "out/filtered_feature_bc_matrix");
  fs::create_directories(tmp / "out/spatial");
  fs::path mtx = tmp / "out/filtered_feature_bc_matrix";
  // 3 features x 3 barcodes: (f1,b1)=4, (f3,b1)=1, (f2,b3)=9; duplicate symbol GeneA.
  write_gz(mtx / "matrix.mtx.gz",
           "%%MatrixMarket matrix coordinate integer general\n%metadata_json: {}\n3 3 3\n"
           "3 1 1\n1 1 4\n2 3 9\n");
  write_gz(mtx / "barcodes.tsv.gz", "AAA-1\nCCC-1\nGGG-1\n");
  write_gz(mtx / "features.tsv.gz",
           "ENSG1\tGeneA\tGene Expression\nENSG2\tGeneB\tGene Expression\nENSG3\tGeneA\tGene Expression\n");
  // CCC-1 is off tissue; TTT-1 is in tissue but not in the matrix.
  std::ofstream(tmp / "out/spatial/tissue_positions.csv")
      << "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n"
      << "AAA-1,1,3,7,1000,2000\nCCC-1,0,4,8,1100,2100\nGGG-1,1,5,9,1200,2200\nTTT-1,1,6,10,1,1\n";
  std::ofstream(tmp / "out/spatial/scalefactors_json.json")
      << R"({"spot_diameter_fullres": 100.0, "tissue_hires_scalef": 0.1, "tissue_lowres_scalef": 0.03})";
  cv::imwrite((tmp / "out/spatial/tissue_hires_image.png").string(), cv::Mat(300, 250, CV_8UC3, cv::Scalar(200, 200, 200)));

  ManifestSection ms;
  ms.id = "V1";
  ms.patient = "P";
  ms.format = "visium";
  ms.files["dir"] = tmp / "out";
  Section s = read_section(ms);
  EXPECT_EQ(s.genes, (std::vector<std::string>{"GeneA", "GeneB", "GeneA-1"}));
  ASSERT_EQ(s.spot_ids, (std::vector<std::string>{"AAA-1", "GGG-1"}));
  EXPECT_EQ(count_at(s.counts, 0, 0), 4.f);
  EXPECT_EQ(count_at(s.counts, 0, 2), 1.f);
  EXPECT_EQ(count_at(s.counts, 1, 1), 9.f);
  EXPECT_EQ(count_at(s.counts, 1, 0), 0.f);
  EXPECT_NEAR(s.pixel_xy[1][0], 220.0, 1e-9);  // pxl_col 2200 * hires 0.1
  EXPECT_NEAR(s.pixel_xy[1][1], 120.0, 1e-9);
  EXPECT_EQ(s.array_xy[1][0], 9);
  EXPECT_NEAR(s.image.spot_diameter_px, 10.0, 1e-12);
  EXPECT_EQ(s.image.width, 250);
  EXPECT_EQ(s.image.height, 300);
}
