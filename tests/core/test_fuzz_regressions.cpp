// Inputs the libFuzzer targets (tests/fuzz) found crashing or misbehaving, reduced by hand: each
// must now be a clean InputError (or a correct result), not a sanitizer report, an abort or a
// multi-terabyte allocation.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <string>

#include "common/error.h"
#include "encoders/torchscript_sidecar.h"
#include "io/h5ad.h"
#include "io/hdf5_file.h"
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

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A tiny prepared section (2 spots x 2 genes), as the dataset store writes it.
PreparedSection tiny_prepared() {
  PreparedSection s;
  s.id = "A1";
  s.genes = {"ERBB2", "GNAS"};
  s.spot_ids = {"10x13", "11x14"};
  s.expression.rows = 2;
  s.expression.cols = 2;
  s.expression.data = {0.5f, 1, 0, 2};
  s.pixel_xy = {{{100, 200}}, {{300, 400}}};
  s.image.width = 640;
  s.image.height = 480;
  s.normalization = "per_spot";
  return s;
}

}  // namespace

// fuzz_10x_h5: an integer datatype message with precision 0 (a 4-byte type) made libhdf5's
// integer-to-float conversion read far past its buffer (H5T__bit_copy, SIGBUS) in the H5Dread of
// matrix/data. Bit layouts that do not fit the type's size are refused before any conversion.
TEST(FuzzRegressions, Hdf5NumberTypeWithImpossibleBitLayout) {
  test::TempDir tmp;
  {
    // int32 with an unusual but valid layout (bits 3..29), so that the patch below finds it.
    hid_t f = H5Fcreate((tmp / "ok.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_STD_I32LE);
    H5Tset_precision(t, 27);
    H5Tset_offset(t, 3);
    hsize_t n = 4;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "x", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const int32_t v[4] = {1, 2, 3, 40};
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
  }
  EXPECT_EQ(hdf5::File::open(tmp / "ok.h5", "x").dataset("x").read_numbers<float>({4}),
            (std::vector<float>{1, 2, 3, 40}));
  // The fixed-point properties of the datatype message: size 4, bit offset 3, precision 27.
  const std::string ok = read_bytes(tmp / "ok.h5");
  const std::string layout("\x04\x00\x00\x00\x03\x00\x1b\x00", 8);
  const size_t at = ok.find(layout);
  ASSERT_NE(at, std::string::npos);
  for (const std::string& patch : {std::string("\x03\x00\x00\x00", 4),    // precision 0
                                   std::string("\x00\x70\x1b\x00", 4)}) {  // offset 28672
    std::string bad = ok;
    bad.replace(at + 4, 4, patch);
    write_bytes(tmp / "bad.h5", bad);
    for (bool in_memory : {false, true}) {
      std::string msg = test::input_error_of([&] {
        hdf5::File f = in_memory ? hdf5::File::open_image(bad.data(), bad.size(), "bad.h5", "x")
                                 : hdf5::File::open(tmp / "bad.h5", "x");
        f.dataset("x").read_numbers<float>({4});
      });
      // libhdf5 1.10 opens the dataset and we refuse its type; 1.14 refuses to open it at all.
      EXPECT_TRUE(has(msg, "bad.h5 (dataset /x): unreadable type of integers: its bit layout") ||
                  has(msg, "bad.h5 (dataset /x): cannot open dataset (corrupt?)"))
          << msg;
    }
  }
}

// fuzz_h5ad: uns/image_width = 1.08e18 was cast to int (undefined behaviour; UBSan: "outside
// the range of representable values of type 'int'"). Image sizes must be pixel counts.
TEST(FuzzRegressions, PreparedH5adImageSizeOutOfRange) {
  test::TempDir tmp;
  for (double width : {1.08086e18, -3.0, 12.5}) {
    write_prepared_h5ad(tmp / "p.h5ad", tiny_prepared());
    hid_t f = H5Fopen((tmp / "p.h5ad").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "uns/image_width", H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "uns/image_width", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &width);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    std::string msg = test::input_error_of([&] { read_prepared_h5ad(tmp / "p.h5ad"); });
    EXPECT_TRUE(has(msg, "p.h5ad (dataset /uns/image_width): expected an image size in pixels")) << msg;
  }
  write_prepared_h5ad(tmp / "p.h5ad", tiny_prepared());
  EXPECT_EQ(read_prepared_h5ad(tmp / "p.h5ad").image.width, 640);
}

namespace {

// /x: 8 int32 in one chunk of 8, gzip level 6 or unfiltered.
void write_chunked(const fs::path& p, bool gzip) {
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = 8;
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &n);
  if (gzip) H5Pset_deflate(dcpl, 6);
  hid_t d = H5Dcreate2(f, "x", H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  const int32_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Fclose(f);
}

}  // namespace

// fuzz_10x_h5: libhdf5 copies a whole chunk out of the buffer it read the chunk into without
// checking the buffer's size, so a chunk stored in fewer bytes than it holds (its B-tree key
// patched) or a gzip chunk that inflates to fewer bytes was a heap-buffer-overflow inside
// H5Dread (H5VM_memcpyvv). Both are now refused before reading.
TEST(FuzzRegressions, Hdf5ChunkShorterThanItHolds) {
  test::TempDir tmp;
  const std::vector<int64_t> values = {1, 2, 3, 4, 5, 6, 7, 8};
  auto read_x = [&](const fs::path& p) {
    return hdf5::File::open(p, "x").dataset("x").read_numbers<int64_t>({8});
  };

  // Unfiltered: the chunk's key in the v1 B-tree (size 32, filter mask 0, offsets 0, 0) says 8.
  write_chunked(tmp / "raw.h5", false);
  EXPECT_EQ(read_x(tmp / "raw.h5"), values);
  std::string bytes = read_bytes(tmp / "raw.h5");
  const std::string key = std::string("\x20\x00\x00\x00", 4) + std::string(20, '\0');
  const size_t at = bytes.find(key, bytes.find("TREE"));
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\x08';
  write_bytes(tmp / "raw.h5", bytes);
  std::string msg = test::input_error_of([&] { read_x(tmp / "raw.h5"); });
  EXPECT_TRUE(has(msg, "raw.h5 (dataset /x): a chunk is stored in 8 bytes but holds 32")) << msg;

  // gzip: the stored stream replaced by one of the first 4 values only (shorter, so it fits).
  write_chunked(tmp / "gz.h5", true);
  EXPECT_EQ(read_x(tmp / "gz.h5"), values);
  bytes = read_bytes(tmp / "gz.h5");
  const int32_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  auto deflated = [](const void* data, size_t n) {
    uLongf len = compressBound(uLong(n));
    std::string out(len, '\0');
    compress2(reinterpret_cast<Bytef*>(&out[0]), &len, static_cast<const Bytef*>(data), uLong(n), 6);
    out.resize(len);
    return out;
  };
  const std::string whole = deflated(v, sizeof v), half = deflated(v, sizeof v / 2);
  const size_t stream = bytes.find(whole);
  ASSERT_NE(stream, std::string::npos);
  ASSERT_LE(half.size(), whole.size());
  bytes.replace(stream, half.size(), half);
  write_bytes(tmp / "gz.h5", bytes);
  msg = test::input_error_of([&] { read_x(tmp / "gz.h5"); });
  EXPECT_TRUE(has(msg, "gz.h5 (dataset /x): a gzip chunk inflates to 16 bytes but holds 32")) << msg;
}
