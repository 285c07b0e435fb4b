// Inputs the libFuzzer targets (tests/fuzz) found crashing or misbehaving, reduced by hand: each
// must now be a clean InputError (or a correct result), not a sanitizer report, an abort or a
// multi-terabyte allocation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

#include "common/error.h"
#include "encoders/torchscript_sidecar.h"
#include "io/manifest.h"
#include "io/npy.h"
#include "io/spot_list.h"
#include "io/st_legacy_reader.h"
#include "io/visium_reader.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// A version 1.0 .npy with the given header dict values and raw data after it.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data = "") {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 0xFF) + char(dict.size() >> 8) +
         dict + data;
}

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

TorchscriptSidecar imagenet() {
  TorchscriptSidecar d;
  d.mean = {0.485f, 0.456f, 0.406f};
  d.std = {0.229f, 0.224f, 0.225f};
  return d;
}

}  // namespace

// fuzz_npy: a header claiming 10^14 strings of <U9 made read_npy_strings allocate 3.6 PB
// (AddressSanitizer: requested allocation size exceeds maximum supported size).
TEST(FuzzRegressions, NpyStringsShapeLargerThanFile) {
  test::TempDir tmp;
  write_bytes(tmp / "big.npy", npy("<U9", "(100000000000000,)", std::string(72, 'a')));
  std::string msg = test::input_error_of([&] { read_npy_strings(tmp / "big.npy"); });
  EXPECT_TRUE(has(msg, "truncated data")) << msg;
  EXPECT_TRUE(has(msg, "big.npy")) << msg;
}

// The same for the float32 reader (rows * cols * 4 bytes allocated before reading).
TEST(FuzzRegressions, NpyF32ShapeLargerThanFile) {
  test::TempDir tmp;
  write_bytes(tmp / "big.npy", npy("<f4", "(4000000000, 4000000000)", std::string(16, '\0')));
  std::string msg = test::input_error_of([&] { read_npy_f32(tmp / "big.npy"); });
  EXPECT_TRUE(has(msg, "truncated data")) << msg;
  // Dimensions that overflow int64 when multiplied, or a single one past 64 bits.
  write_bytes(tmp / "huge.npy", npy("<f4", "(99999999999999999999999, 2)"));
  EXPECT_THROW(read_npy_f32(tmp / "huge.npy"), InputError);
  // An empty array is still fine.
  write_bytes(tmp / "empty.npy", npy("<f4", "(0, 3)"));
  Matrix m = read_npy_f32(tmp / "empty.npy");
  EXPECT_EQ(m.rows, 0);
  EXPECT_EQ(m.cols, 3);
}

// Negative, zero, non-numeric or absurd string widths in the dtype: a negative width became a
// huge size_t allocation; zero-width strings let any shape pass the size check.
TEST(FuzzRegressions, NpyStringsBadWidth) {
  test::TempDir tmp;
  for (const char* descr : {"<U-5", "<U0", "|S0", "<Uabc", "<U99999999999"}) {
    write_bytes(tmp / "w.npy", npy(descr, "(2,)", std::string(64, 'a')));
    std::string msg = test::input_error_of([&] { read_npy_strings(tmp / "w.npy"); });
    EXPECT_TRUE(has(msg, "w.npy")) << descr << ": " << msg;
  }
  write_bytes(tmp / "ok.npy", npy("|S2", "(2,)", "abcd"));
  EXPECT_EQ(read_npy_strings(tmp / "ok.npy"), (std::vector<std::string>{"ab", "cd"}));
}

// The side-car JSON now lives in a torch-free parser; out-of-range numbers are refused instead
// of wrapping (a JSON integer past INT_MAX read as int) or becoming inf (1e300 read as float).
TEST(FuzzRegressions, SidecarOutOfRangeNumbers) {
  for (const char* json : {R"({"input_size": 4294967520})", R"({"input_size": 18446744073709551615})",
                           R"({"input_size": -3})", R"({"input_size": 2.5})",
                           R"({"output_dim": 99999999999999999999})", R"({"mean": [1e300, 0, 0]})",
                           R"({"std": [1, 1e39, 1]})", R"({"std": [1, 0, 1]})", R"([1, 2])",
                           R"({"mean": [0, 0]})", "{\"input_size\": 3"}) {
    std::string msg =
        test::input_error_of([&] { parse_torchscript_sidecar(json, "m.json", imagenet()); });
    EXPECT_TRUE(has(msg, "m.json")) << json << ": " << msg;
  }
  TorchscriptSidecar c = parse_torchscript_sidecar(
      R"({"input_size": 32, "mean": [0.5, 0.4, 0.3], "output_dim": 5})", "m.json", imagenet());
  EXPECT_EQ(c.input_size, 32);
  EXPECT_FLOAT_EQ(c.mean[2], 0.3f);
  EXPECT_FLOAT_EQ(c.std[0], 0.229f);  // the default kept
  EXPECT_EQ(c.output_dim, 5);
}

// fuzz_tissue_positions: in_tissue = 1e10 was converted with int(double), undefined behaviour
// (UBSan: "1e+10 is outside the range of representable values of type 'int'"). Out-of-range
// values are simply not in tissue; 1 still is.
TEST(FuzzRegressions, TissuePositionsHugeInTissue) {
  test::TempDir tmp;
  write_bytes(tmp / "pos.csv",
              "A-1,1e10,0,0,1,1\nB-1,-4294967297,0,1,1,1\nC-1,1,0,2,1,1\nD-1,1e308,0,3,1,1\n");
  auto pos = read_tissue_positions(tmp / "pos.csv");
  ASSERT_EQ(pos.size(), 4u);
  EXPECT_NE(pos[0].in_tissue, 1);
  EXPECT_NE(pos[1].in_tissue, 1);
  EXPECT_EQ(pos[2].in_tissue, 1);
  EXPECT_NE(pos[3].in_tissue, 1);
}

// fuzz_counts_tsv: a count of 1e39 is finite as a double but was stored as float32 inf.
TEST(FuzzRegressions, CountsBeyondFloat32AreRefused) {
  test::TempDir tmp;
  write_bytes(tmp / "c.tsv", "\tG1\tG2\n1x1\t1\t1e39\n");
  std::string msg = test::input_error_of([&] { read_counts_tsv(tmp / "c.tsv"); });
  EXPECT_TRUE(has(msg, "infinite count '1e39'")) << msg;
  EXPECT_TRUE(has(msg, "line 2")) << msg;
  // The largest float32 value still reads; a huge negative one is still "negative".
  write_bytes(tmp / "ok.tsv", "\tG1\n1x1\t3.4e38\n");
  EXPECT_FLOAT_EQ(read_counts_tsv(tmp / "ok.tsv").counts.values.at(0), 3.4e38f);
  write_bytes(tmp / "neg.tsv", "\tG1\n1x1\t-1e39\n");
  msg = test::input_error_of([&] { read_counts_tsv(tmp / "neg.tsv"); });
  EXPECT_TRUE(has(msg, "negative count")) << msg;
}

// fuzz_spot_list: the id,pixel_x,pixel_y CSV took "nan" and "inf" (strtod), and every format took
// coordinates past 2^31; patch cropping casts the centres to int (undefined behaviour).
TEST(FuzzRegressions, QuerySpotsNonFiniteOrHugeCoordinates) {
  test::TempDir tmp;
  const std::string bad[] = {
      "id,pixel_x,pixel_y\ns1,10,20\ns2,nan,20\n",
      "id,pixel_x,pixel_y\ns1,inf,20\n",
      "id,pixel_x,pixel_y\ns1,10,-1e300\n",
      "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\n1\t1\t1\t1\t1e300\t20\t1\n",
      "A-1,1,0,0,1,3e9\n",
  };
  for (const auto& text : bad) {
    write_bytes(tmp / "spots.txt", text);
    std::string msg = test::input_error_of([&] { read_query_spots(tmp / "spots.txt"); });
    EXPECT_TRUE(has(msg, "not a finite image position")) << text << ": " << msg;
    EXPECT_TRUE(has(msg, "spots.txt")) << msg;
  }
  write_bytes(tmp / "ok.csv", "id,pixel_x,pixel_y\ns1,10.5,20\n");
  QuerySpots q = read_query_spots(tmp / "ok.csv");
  ASSERT_EQ(q.ids.size(), 1u);
  EXPECT_EQ(q.pixel_xy[0][0], 10.5);
}

// fuzz_manifest (with toml++ compiled header-only, asserts on): "[=" and "[[[1]]]" failed an
// assertion inside toml++ 3.3.0's parse_key (marzer/tomlplusplus#301). The shipped library
// reports a parse error; the manifest loader must turn it into an InputError with the line.
TEST(FuzzRegressions, ManifestMalformedTableHeaders) {
  test::TempDir tmp;
  for (const char* text : {"[=\n", "[[[1]]]\n", "[[=\n", "name = \"x\"\n[ =]\n"}) {
    write_bytes(tmp / "m.toml", text);
    std::string msg = test::input_error_of([&] { load_manifest(tmp / "m.toml"); });
    EXPECT_TRUE(has(msg, "invalid TOML")) << text << ": " << msg;
  }
}
