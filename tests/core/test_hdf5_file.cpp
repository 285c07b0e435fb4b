// The HDF5 layer on files written straight through the C API: path walks, conversions, the
// checks made before reading (each error names the file and the HDF5 path), and variable-length
// strings in every storage the readers meet (contiguous, chunked + deflate, attributes).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <fstream>

#include "common/error.h"
#include "io/hdf5_file.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

hid_t vlen_string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  return t;
}

// /g/ints (int16 2x3), /g/floats (float64, 4), /g/vlen (contiguous, with an empty and a null
// entry), /g/vlen_chunked (chunks of 2, deflate), /g/fixed (width 6), attributes on /g.
void write_sample(const fs::path& p) {
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  auto dataset = [&](const char* name, hid_t type, std::vector<hsize_t> dims, const void* data,
                     hid_t mem, hid_t dcpl = H5P_DEFAULT) {
    hid_t sp = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
  };
  const int16_t ints[6] = {1, -2, 3, 4, 5, 600};
  dataset("ints", H5T_STD_I16BE, {2, 3}, ints, H5T_NATIVE_INT16);
  const double floats[4] = {0.5, 1.25, -3, 1e10};
  dataset("floats", H5T_IEEE_F64LE, {4}, floats, H5T_NATIVE_DOUBLE);
  hid_t vs = vlen_string_type();
  const char* words[5] = {"alpha", "", nullptr, "Gène", "epsilon"};
  dataset("vlen", vs, {5}, words, vs);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk = 2;
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Pset_deflate(dcpl, 6);
  dataset("vlen_chunked", vs, {5}, words, vs, dcpl);
  H5Pclose(dcpl);
  hid_t fixed = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed, 6);
  const char fixed_data[13] = "ab\0\0\0\0cdefgh";
  dataset("fixed", fixed, {2}, fixed_data, fixed);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(g, "var_attr", vs, scalar, H5P_DEFAULT, H5P_DEFAULT);
  const char* value = "csr_matrix";
  H5Awrite(a, vs, &value);
  H5Aclose(a);
  a = H5Acreate2(g, "fixed_attr", fixed, scalar, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, fixed, "dense\0");
  H5Aclose(a);
  H5Sclose(scalar);
  H5Tclose(fixed);
  H5Tclose(vs);
  H5Gclose(g);
  H5Fclose(f);
}

}  // namespace

TEST(Hdf5File, PathsAndKinds) {
  test::TempDir tmp;
  write_sample(tmp / "s.h5");
  hdf5::File f = hdf5::File::open(tmp / "s.h5", "a sample file");
  EXPECT_TRUE(f.exists("g"));
  EXPECT_TRUE(f.exists("/g/ints"));
  EXPECT_FALSE(f.exists("g/none"));
  EXPECT_FALSE(f.exists("none/ints"));  // a missing parent is "no", not an HDF5 error
  EXPECT_TRUE(f.is_group("g"));
  EXPECT_FALSE(f.is_group("g/ints"));
  EXPECT_TRUE(f.is_dataset("g/ints"));
  EXPECT_EQ(f.group("/g").children(),
            (std::vector<std::string>{"fixed", "floats", "ints", "vlen", "vlen_chunked"}));
  std::string msg = test::input_error_of([&] { f.dataset("g/none"); });
  EXPECT_TRUE(has(msg, (tmp / "s.h5").string() + ": missing dataset /g/none (not a sample file?)")) << msg;
  msg = test::input_error_of([&] { f.group("g/ints"); });
  EXPECT_TRUE(has(msg, "(dataset /g/ints): expected a group")) << msg;
  msg = test::input_error_of([&] { f.dataset("g"); });
  EXPECT_TRUE(has(msg, "(group /g): expected a dataset")) << msg;
}

TEST(Hdf5File, NumbersAreConvertedAndShapesCheckedBeforeReading) {
  test::TempDir tmp;
  write_sample(tmp / "s.h5");
  hdf5::File f = hdf5::File::open(tmp / "s.h5", "a sample file");
  std::vector<hsize_t> dims;
  EXPECT_EQ(f.dataset("g/ints").read_numbers<float>({2, 3}, &dims),
            (std::vector<float>{1, -2, 3, 4, 5, 600}));  // big-endian int16 -> float
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(f.dataset("g/ints").read_numbers<int64_t>({-1, 3})[5], 600);
  EXPECT_EQ(f.dataset("g/floats").read_numbers<double>({4}),
            (std::vector<double>{0.5, 1.25, -3, 1e10}));
  std::string msg = test::input_error_of([&] { f.dataset("g/ints").read_numbers<float>({3, 2}); });
  EXPECT_TRUE(has(msg, "(dataset /g/ints): expected a 2-D array of shape 3x2, found shape 2x3")) << msg;
  msg = test::input_error_of([&] { f.dataset("g/floats").read_numbers<float>({-1, -1}); });
  EXPECT_TRUE(has(msg, "(dataset /g/floats): expected a 2-D array of shape *x*, found shape 4")) << msg;
  msg = test::input_error_of([&] { f.dataset("g/vlen").read_numbers<float>({5}); });
  EXPECT_TRUE(has(msg, "(dataset /g/vlen): expected numbers, found strings")) << msg;
  msg = test::input_error_of([&] { f.dataset("g/floats").read_scalar(); });
  EXPECT_TRUE(has(msg, "expected a scalar, found shape 4")) << msg;
  msg = test::input_error_of([&] { f.dataset("g/ints").read_strings(); });
  EXPECT_TRUE(has(msg, "(dataset /g/ints): expected strings, found integers")) << msg;
}

TEST(Hdf5File, StringsOfEveryStorage) {
  test::TempDir tmp;
  write_sample(tmp / "s.h5");
  hdf5::File f = hdf5::File::open(tmp / "s.h5", "a sample file");
  const std::vector<std::string> words = {"alpha", "", "", "Gène", "epsilon"};  // null reads ""
  EXPECT_EQ(f.dataset("g/vlen").read_strings(), words);
  EXPECT_EQ(f.dataset("g/vlen_chunked").read_strings(5), words);
  EXPECT_EQ(f.dataset("g/fixed").read_strings(), (std::vector<std::string>{"ab", "cdefgh"}));
  std::string msg = test::input_error_of([&] { f.dataset("g/vlen").read_strings(4); });
  EXPECT_TRUE(has(msg, "(dataset /g/vlen): holds 5 strings, expected 4")) << msg;
  hdf5::Group g = f.group("g");
  EXPECT_EQ(g.attr_string("var_attr"), std::optional<std::string>("csr_matrix"));
  EXPECT_EQ(g.attr_string("fixed_attr"), std::optional<std::string>("dense"));
  EXPECT_EQ(g.attr_string("absent"), std::nullopt);
}

TEST(Hdf5File, WhatTheWriterWritesReadsBack) {
  test::TempDir tmp;
  {
    hdf5::File f = hdf5::File::create(tmp / "w.h5", "shown.h5");
    hdf5::Group g = f.root().create_group("grp");
    const double v[6] = {1, 2, 3, 4, 5, 6.5};
    g.write_numbers<double>("m", {3, 2}, v);
    const int64_t one = 42;
    g.write_numbers<int64_t>("scalar", {}, &one);
    g.write_strings("names", {"a", "bé", ""});
    g.write_string("title", "section C2");
    g.write_attr_string("kind", "dict");
    g.write_attr_strings("order", {"m", "names"});
    f.flush();
    std::string msg = test::input_error_of([&] { g.create_group("m"); });  // exists already
    EXPECT_TRUE(has(msg, "shown.h5")) << msg;
  }
  hdf5::File f = hdf5::File::open(tmp / "w.h5", "a test file");
  EXPECT_EQ(f.dataset("grp/m").read_numbers<float>({3, 2}), (std::vector<float>{1, 2, 3, 4, 5, 6.5}));
  EXPECT_EQ(f.dataset("grp/scalar").read_scalar(), 42);
  EXPECT_EQ(f.dataset("grp/names").read_strings(3), (std::vector<std::string>{"a", "bé", ""}));
  EXPECT_EQ(f.dataset("grp/title").read_strings(1)[0], "section C2");
  EXPECT_EQ(f.group("grp").attr_string("kind"), std::optional<std::string>("dict"));
  std::string msg = test::input_error_of([&] { f.group("grp").attr_string("order"); });
  EXPECT_TRUE(has(msg, "attribute order: expected a single string")) << msg;
}

TEST(Hdf5File, NotHdf5OrMissing) {
  test::TempDir tmp;
  std::string msg = test::input_error_of([&] { hdf5::File::open(tmp / "none.h5", "x"); });
  EXPECT_TRUE(has(msg, "none.h5: file not found")) << msg;
  std::ofstream(tmp / "t.h5") << "plain text";
  msg = test::input_error_of([&] { hdf5::File::open(tmp / "t.h5", "a 10x matrix"); });
  EXPECT_TRUE(has(msg, "t.h5: not an HDF5 file (corrupt, or not a 10x matrix)")) << msg;
}

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

// open_image reads the bytes of a file from memory (HDF5's core driver) exactly as open reads
// the file: the same values, strings decoded from the image's own heap, errors naming `name`.
TEST(Hdf5File, AnImageInMemoryReadsLikeTheFile) {
  test::TempDir tmp;
  write_sample(tmp / "s.h5");
  std::string bytes = file_bytes(tmp / "s.h5");
  fs::remove(tmp / "s.h5");  // nothing is read from disk
  hdf5::File f = hdf5::File::open_image(bytes.data(), bytes.size(), "mem.h5", "a sample file");
  EXPECT_EQ(f.name(), "mem.h5");
  EXPECT_EQ(f.dataset("g/ints").read_numbers<float>({2, 3}), (std::vector<float>{1, -2, 3, 4, 5, 600}));
  const std::vector<std::string> words = {"alpha", "", "", "Gène", "epsilon"};
  EXPECT_EQ(f.dataset("g/vlen").read_strings(), words);
  EXPECT_EQ(f.dataset("g/vlen_chunked").read_strings(5), words);
  EXPECT_EQ(f.group("g").attr_string("var_attr"), std::optional<std::string>("csr_matrix"));
  std::string msg = test::input_error_of([&] { f.dataset("g/none"); });
  EXPECT_TRUE(has(msg, "mem.h5: missing dataset /g/none (not a sample file?)")) << msg;

  // A second image of the same name, open at the same time, is a file of its own (the core
  // driver would otherwise take it for the first one, as it compares names).
  std::string other;
  {
    write_sample(tmp / "o.h5");
    hid_t h = H5Fopen((tmp / "o.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(h, "g/ints", H5P_DEFAULT);
    H5Fclose(h);
    other = file_bytes(tmp / "o.h5");
  }
  hdf5::File g = hdf5::File::open_image(other.data(), other.size(), "mem.h5", "a sample file");
  EXPECT_FALSE(g.exists("g/ints"));
  EXPECT_TRUE(f.exists("g/ints"));
  bytes.assign(bytes.size(), '\0');  // the image was copied: the caller's buffer may go
  EXPECT_EQ(f.dataset("g/vlen").read_strings(), words);

  msg = test::input_error_of([&] { hdf5::File::open_image("plain text", 10, "t.h5", "a 10x matrix"); });
  EXPECT_TRUE(has(msg, "t.h5: not an HDF5 file (corrupt, or not a 10x matrix)")) << msg;
  msg = test::input_error_of([&] { hdf5::File::open_image(other.data(), 600, "cut.h5", "x"); });
  EXPECT_TRUE(has(msg, "cut.h5: ")) << msg;
}
