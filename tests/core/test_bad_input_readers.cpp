// Every bad input the readers see stops with an InputError naming the file (small files written
// here); count rows without a spot-table row, and missing spots when allowed, are counted and
// warned.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "pipeline/prepare.h"
#include "io/image_info.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "io/st_legacy_reader.h"
#include "io/visium_reader.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

const char* kSpots =
    "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\n"
    "1\t1\t1.01\t0.98\t10.5\t20.5\t1\n"
    "2\t1\t2.02\t1.01\t30.0\t20.0\t1\n"
    "3\t1\t3.00\t1.00\t50.0\t20.0\t0\n";

// A legacy ST section in a temp folder with a 100 x 80 PNG.
struct StFixture {
  test::TempDir tmp;
  ManifestSection ms;
  explicit StFixture(const std::string& counts, const std::string& spots = kSpots) {
    std::ofstream(tmp / "counts.tsv") << counts;
    std::ofstream(tmp / "spots.tsv") << spots;
    cv::imwrite((tmp / "he.png").string(), cv::Mat(80, 100, CV_8UC3, cv::Scalar(255, 255, 255)));
    ms.id = "S";
    ms.patient = "P";
    ms.format = "st_legacy";
    ms.files = {{"counts", tmp / "counts.tsv"}, {"spots", tmp / "spots.tsv"}, {"image", tmp / "he.png"}};
    ms.spot_diameter_px = 10;
  }
  std::string path(const std::string& name) const { return (tmp / name).string(); }
};


bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace

TEST(BadInputReaders, GoodFixtureReads) {
  StFixture f("\tG1\tG2\n1x1\t1\t0\n2x1\t0\t3\n3x1\t4\t4\n");
  Section s = read_section(f.ms);
  EXPECT_EQ(s.n_spots(), 2);  // 3x1 is not selected
  EXPECT_EQ(s.pixel_xy[0][0], 10.5);
  EXPECT_EQ(s.image.width, 100);
  EXPECT_EQ(s.image.height, 80);
}

TEST(BadInputReaders, MissingCountsFile) {
  StFixture f("\tG1\n1x1\t1\n");
  fs::remove(f.tmp / "counts.tsv");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv"))) << msg;
  EXPECT_TRUE(has(msg, "not found")) << msg;
}

TEST(BadInputReaders, CountsHeaderWithoutGenes) {
  StFixture f("\n1x1\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 1)")) << msg;
  EXPECT_TRUE(has(msg, "no gene names")) << msg;
}

TEST(BadInputReaders, NonNumericCount) {
  StFixture f("\tG1\tG2\n1x1\t1\t0\n2x1\t0\tabc\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 3, column 3)")) << msg;
  EXPECT_TRUE(has(msg, "non-numeric count 'abc'")) << msg;
  EXPECT_TRUE(has(msg, "gene 'G2'")) << msg;
}

TEST(BadInputReaders, NegativeCount) {
  StFixture f("\tG1\tG2\n1x1\t-2\t0\n2x1\t0\t1\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 2, column 2)")) << msg;
  EXPECT_TRUE(has(msg, "negative count '-2'")) << msg;
  EXPECT_TRUE(has(msg, "gene 'G1'")) << msg;
}

TEST(BadInputReaders, NaNCount) {
  StFixture f("\tG1\tG2\n1x1\t1\t0\n2x1\tNaN\t1\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 3, column 2)")) << msg;
  EXPECT_TRUE(has(msg, "NaN count")) << msg;
}

TEST(BadInputReaders, SpotMismatchIsCountedWhenMissingSpotsAreAllowed) {
  // 9x9 has no spot-table row; selected spot 2x1 has no count row.
  StFixture f("\tG1\n1x1\t1\n9x9\t2\n3x1\t5\n");
  ReadOptions allow;
  allow.allow_missing_spots = true;
  StLegacyJoinStats st;
  Section s = read_st_legacy(f.ms, &st, allow);
  EXPECT_EQ(s.n_spots(), 1);
  EXPECT_EQ(s.spot_ids[0], "1x1");
  EXPECT_EQ(st.count_rows, 3);
  EXPECT_EQ(st.table_rows, 3);
  EXPECT_EQ(st.counts_without_spot, 1);
  EXPECT_EQ(st.spots_without_counts, 1);
  EXPECT_EQ(st.unselected, 1);
  EXPECT_EQ(st.joined, 1);
  // The manifest's per-section key does the same.
  f.ms.allow_missing_spots = true;
  EXPECT_EQ(read_section(f.ms).spot_ids, s.spot_ids);
}

TEST(BadInputReaders, SpotCentreOutsideImage) {
  std::string spots = std::string(kSpots) + "4\t1\t4\t1\t120.0\t20.0\t1\n";
  StFixture f("\tG1\n1x1\t1\n2x1\t3\n4x1\t2\n", spots);
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("spots.tsv"))) << msg;
  EXPECT_TRUE(has(msg, "spot 4x1")) << msg;
  EXPECT_TRUE(has(msg, "100 x 80")) << msg;
}

TEST(BadInputReaders, EmptySectionAfterFiltering) {
  StFixture f("\tG1\n3x1\t1\n7x7\t2\n");  // 3x1 unselected, 7x7 unknown
  f.ms.allow_missing_spots = true;            // else the missing 1x1 and 2x1 fail first
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv"))) << msg;
  EXPECT_TRUE(has(msg, "empty section")) << msg;
}

TEST(BadInputReaders, TruncatedJpeg) {
  StFixture f("\tG1\n1x1\t1\n");
  cv::Mat noise(80, 100, CV_8UC3);
  cv::randu(noise, 0, 255);
  cv::imwrite(f.path("he.jpg"), noise);
  fs::resize_file(f.tmp / "he.jpg", fs::file_size(f.tmp / "he.jpg") / 2);
  f.ms.files["image"] = f.tmp / "he.jpg";
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("he.jpg"))) << msg;
  EXPECT_TRUE(has(msg, "truncated JPEG")) << msg;
}

TEST(BadInputReaders, JpegSizeFromHeader) {
  test::TempDir tmp;
  cv::imwrite((tmp / "a.jpg").string(), cv::Mat(37, 53, CV_8UC3, cv::Scalar(1, 2, 3)));
  ImageSize s = read_image_size(tmp / "a.jpg");
  EXPECT_EQ(s.width, 53);
  EXPECT_EQ(s.height, 37);
}

TEST(BadInputReaders, CorruptHdf5) {
  test::TempDir tmp;
  fs::create_directories(tmp / "out/spatial");
  std::ofstream(tmp / "out/filtered_feature_bc_matrix.h5") << "this is not an HDF5 file at all";
  ManifestSection ms;
  ms.id = "V";
  ms.format = "visium";
  ms.files["dir"] = tmp / "out";
  std::string msg = test::input_error_of([&] { read_section(ms); });
  EXPECT_TRUE(has(msg, (tmp / "out/filtered_feature_bc_matrix.h5").string())) << msg;
  EXPECT_TRUE(has(msg, "not an HDF5 file")) << msg;
}

TEST(BadInputReaders, ValidHdf5ThatIsNot10x) {
  test::TempDir tmp;
  fs::path p = tmp / "other.h5";
  hid_t file = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t grp = H5Gcreate2(file, "/matrix", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[1] = {2};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t ds = H5Dcreate2(file, "/matrix/shape", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int64_t shape[2] = {3, 4};
  H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, shape);
  H5Dclose(ds);
  H5Sclose(space);
  H5Gclose(grp);
  H5Fclose(file);
  std::string msg = test::input_error_of([&] { read_10x_h5(p); });
  EXPECT_TRUE(has(msg, p.string())) << msg;
  EXPECT_TRUE(has(msg, "missing dataset /matrix/barcodes")) << msg;

  // And with no /matrix group at all.
  file = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(file);
  msg = test::input_error_of([&] { read_10x_h5(p); });
  EXPECT_TRUE(has(msg, p.string())) << msg;
  EXPECT_TRUE(has(msg, "/matrix")) << msg;
}

TEST(BadInputReaders, VisiumMissingPositions) {
  test::TempDir tmp;
  fs::create_directories(tmp / "out/filtered_feature_bc_matrix");
  std::ofstream(tmp / "out/filtered_feature_bc_matrix/matrix.mtx")
      << "%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 2\n";
  std::ofstream(tmp / "out/filtered_feature_bc_matrix/barcodes.tsv") << "A-1\n";
  std::ofstream(tmp / "out/filtered_feature_bc_matrix/features.tsv") << "E1\tG1\tGene Expression\n";
  ManifestSection ms;
  ms.id = "V";
  ms.format = "visium";
  ms.files["dir"] = tmp / "out";
  std::string msg = test::input_error_of([&] { read_section(ms); });
  EXPECT_TRUE(has(msg, "tissue_positions_list.csv")) << msg;
  EXPECT_TRUE(has(msg, "not found")) << msg;
}

TEST(BadInputReaders, ManifestUnknownFormat) {
  test::TempDir tmp;
  std::ofstream(tmp / "m.toml") << "[[section]]\nid = \"X\"\nformat = \"loom\"\nfile = \"a\"\n";
  std::string msg = test::input_error_of([&] { load_manifest(tmp / "m.toml"); });
  EXPECT_TRUE(has(msg, (tmp / "m.toml").string())) << msg;
  EXPECT_TRUE(has(msg, "unknown format 'loom'")) << msg;
}

TEST(BadInputReaders, ManifestSelectUnknownSection) {
  test::TempDir tmp;
  std::ofstream(tmp / "m.toml") << "[[section]]\nid = \"X\"\nformat = \"h5ad\"\nfile = \"a\"\n"
                                   "[[section]]\nid = \"Y\"\nformat = \"h5ad\"\nfile = \"b\"\n";
  Manifest m = load_manifest(tmp / "m.toml");
  std::string msg = test::input_error_of([&] { m.select({"Q"}); });
  EXPECT_TRUE(has(msg, (tmp / "m.toml").string())) << msg;
  EXPECT_TRUE(has(msg, "'Q'")) << msg;
  EXPECT_TRUE(has(msg, "X, Y")) << msg;
}

TEST(BadInputReaders, ShortCountsRow) {
  StFixture f("\tG1\tG2\n1x1\t1\t0\n2x1\t4\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 3)")) << msg;
  EXPECT_TRUE(has(msg, "row has 1 counts but the header has 2 genes")) << msg;
}

TEST(BadInputReaders, DuplicateSpotIdInCounts) {
  StFixture f("\tG1\tG2\n1x1\t1\t0\n2x1\t0\t3\n\"1x1\"\t4\t4\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 4)")) << msg;
  EXPECT_TRUE(has(msg, "duplicate spot id '1x1' (first on line 2)")) << msg;
}

TEST(BadInputReaders, DuplicateGeneInCountsHeader) {
  StFixture f("\tG1\tG2\tG1\n1x1\t1\t0\t2\n2x1\t0\t3\t4\n");
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv") + " (line 1)")) << msg;
  EXPECT_TRUE(has(msg, "duplicate gene 'G1'")) << msg;
  EXPECT_TRUE(has(msg, "columns 2 and 4")) << msg;
}

TEST(BadInputReaders, CountsFileCutAtALineEndFailsNamingBothFilesAndTheLostSpots) {
  // Ten selected spots with counts; the counts file loses its second half at a line end.
  std::string spots = "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\n";
  std::string counts = "\tG1\tG2\n";
  std::vector<std::string> ids;
  for (int i = 1; i <= 10; ++i) {
    spots += std::to_string(i) + "\t2\t" + std::to_string(i) + "\t2\t" + std::to_string(5 * i) +
             "\t30\t1\n";
    counts += std::to_string(i) + "x2\t" + std::to_string(i) + "\t1\n";
    ids.push_back(std::to_string(i) + "x2");
  }
  size_t cut = 0;
  for (int line = 0; line < 6; ++line) cut = counts.find('\n', cut) + 1;  // header + 5 rows
  StFixture f(counts.substr(0, cut), spots);
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv"))) << msg;
  EXPECT_TRUE(has(msg, f.path("spots.tsv"))) << msg;
  EXPECT_TRUE(has(msg, "5 of 10 selected spots")) << msg;
  for (size_t k = 5; k < 10; ++k) EXPECT_TRUE(has(msg, ids[k])) << ids[k] << ": " << msg;
  EXPECT_FALSE(has(msg, ids[0] + ",")) << "spots that have counts are not listed: " << msg;

  ReadOptions allow;
  allow.allow_missing_spots = true;
  StLegacyJoinStats st;
  Section s = read_st_legacy(f.ms, &st, allow);
  EXPECT_EQ(s.spot_ids, std::vector<std::string>(ids.begin(), ids.begin() + 5));
  EXPECT_EQ(st.spots_without_counts, 5);
}

TEST(BadInputReaders, SpotTableRowShorterThanTheHeader) {
  // The last row lost its trailing field: not a column the reader needs, but a damaged table.
  const std::string spots =
      "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\tnote\n"
      "1\t1\t1.01\t0.98\t10.5\t20.5\t1\tok\n"
      "2\t1\t2.02\t1.01\t30.0\t20.0\t1\n";
  StFixture f("\tG1\n1x1\t1\n2x1\t2\n", spots);
  std::string msg = test::input_error_of([&] { read_section(f.ms); });
  EXPECT_TRUE(has(msg, f.path("spots.tsv") + " (line 3)")) << msg;
  EXPECT_TRUE(has(msg, "row has 7 fields but the header has 8")) << msg;
}

TEST(BadInputReaders, PrepareRefusesMissingSpotsUnlessAllowed) {
  StFixture f("\tG1\tG2\n1x1\t3\t1\n");  // selected 2x1 has no counts row
  std::ofstream(f.tmp / "m.toml") << "[[section]]\nid = \"S\"\nformat = \"st_legacy\"\n"
                                     "counts = \"counts.tsv\"\nspots = \"spots.tsv\"\n"
                                     "image = \"he.png\"\nspot_diameter_px = 10\n";
  std::ofstream(f.tmp / "genes.txt") << "G1\nG2\n";
  PrepareOptions o;
  o.manifest = f.tmp / "m.toml";
  o.out = f.tmp / "store";
  o.panel.genes_file = f.tmp / "genes.txt";
  o.progress = false;
  std::string msg = test::input_error_of([&] { prepare_dataset(o); });
  EXPECT_TRUE(has(msg, f.path("counts.tsv"))) << msg;
  EXPECT_TRUE(has(msg, "2x1")) << msg;
  EXPECT_FALSE(fs::exists(o.out)) << "no store on error";

  o.allow_missing_spots = true;
  PrepareSummary sum = prepare_dataset(o);
  EXPECT_EQ(sum.n_spots.at("S"), 1);
  EXPECT_TRUE(fs::exists(o.out / "S.h5ad"));
}
