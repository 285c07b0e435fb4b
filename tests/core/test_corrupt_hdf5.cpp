// Damaged HDF5 files never crash a reader: the real 10x matrix and one of our own .h5ad files,
// with 64 bytes overwritten at offsets spread over the whole file (and a few patterns), must
// each read or throw InputError. Each damaged copy is read in a forked child, so a segfault
// (libhdf5's vlen-string read of a damaged global heap used to be one) fails the test naming the
// offset and pattern instead of ending the test run.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <array>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <vector>

#include "common/error.h"
#include "io/h5ad.h"
#include "io/section_reader.h"
#include "pipeline/prepare.h"
#include "io/visium_reader.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

// Runs read() in a child: "read", "InputError", or what went wrong (signal, other exception, hang).
std::string outcome_in_child(const std::function<void()>& read) {
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    alarm(60);  // a reader stuck in a loop on garbage is a failure too
    int code = 0;  // 10 and 11, not 1: a sanitizer that takes over a crash exits with 1
    try {
      read();
    } catch (const InputError&) {
      code = 10;
    } catch (...) {
      code = 11;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "hung" : "killed by signal " + std::to_string(WTERMSIG(status));
  switch (WEXITSTATUS(status)) {
    case 0: return "read";
    case 10: return "InputError";
    case 11: return "an exception other than InputError";
    default: return "exit code " + std::to_string(WEXITSTATUS(status)) + " (a sanitizer report?)";
  }
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Overwrites 64 bytes at 40 offsets spread over the file (the middle among them), with 0xFF,
// zeros, random bytes and flipped bits, and reads each copy with every reader. Returns how many
// copies were refused with an InputError.
int corrupt_and_read(const std::string& original, const fs::path& copy,
                     const std::vector<std::function<void(const fs::path&)>>& readers) {
  std::vector<size_t> offsets;
  for (size_t k = 0; k < 40; ++k) offsets.push_back(original.size() * k / 40);
  offsets.push_back(original.size() / 2 - 32);
  const char* names[4] = {"0xFF", "0x00", "random", "flipped"};
  std::mt19937 rng(20240601);
  int refused = 0;
  for (int pattern = 0; pattern < 4; ++pattern)
    for (size_t off : offsets) {
      std::string bytes = original;
      for (size_t i = off; i < off + 64 && i < bytes.size(); ++i)
        bytes[i] = pattern == 0   ? char(0xFF)
                   : pattern == 1 ? char(0)
                   : pattern == 2 ? char(rng() & 0xFF)
                                  : char(bytes[i] ^ 0x24);
      std::ofstream(copy, std::ios::binary | std::ios::trunc) << bytes;
      for (size_t r = 0; r < readers.size(); ++r) {
        std::string got = outcome_in_child([&] { readers[r](copy); });
        EXPECT_TRUE(got == "read" || got == "InputError")
            << "reader " << r << ", 64 bytes of " << names[pattern] << " at offset " << off
            << ": " << got;
        refused += got == "InputError";
      }
    }
  std::printf("[ corrupt ] %s: %d of %zu reads of damaged copies refused, the rest read\n",
              copy.filename().c_str(), refused, 4 * offsets.size() * readers.size());
  return refused;
}

}  // namespace

TEST(CorruptHdf5, DamagedTenXMatrixIsAnInputErrorNeverACrash) {
  HISCMCL_REQUIRE_DATA("visium_seurat_fixture");
  test::TempDir tmp;
  const fs::path original = test::shared_data() / "visium_seurat_fixture/filtered_feature_bc_matrix.h5";
  fs::copy_file(original, tmp / "whole.h5");
  ASSERT_EQ(read_10x_h5(tmp / "whole.h5").barcodes.size(), 2695u);  // the undamaged copy reads
  int refused = corrupt_and_read(read_bytes(original), tmp / "filtered_feature_bc_matrix.h5",
                                 {[](const fs::path& p) { read_10x_h5(p); }});
  EXPECT_GT(refused, 100) << "most damage should be detected";
}

TEST(CorruptHdf5, DamagedH5adIsAnInputErrorNeverACrash) {
  test::TempDir tmp;
  // Big enough for several heap collections of spot ids, genes and labels.
  PreparedSection s;
  s.id = "S1";
  s.patient = "P";
  for (int g = 0; g < 8; ++g) s.genes.push_back("GENE" + std::to_string(g));
  s.expression = Matrix(400, 8);
  s.counts = Matrix(400, 8);
  for (int i = 0; i < 400; ++i) {
    s.spot_ids.push_back(std::to_string(i % 20) + "x" + std::to_string(i / 20));
    s.array_xy.push_back({double(i % 20), double(i / 20)});
    s.pixel_xy.push_back({10.0 * (i % 20), 10.0 * (i / 20)});
    s.labels.push_back(i % 3 ? "invasive cancer" : "stroma");
  }
  for (size_t k = 0; k < s.counts.data.size(); ++k) {
    s.counts.data[k] = float(k % 7);
    s.expression.data[k] = 0.25f * float(k % 7);
  }
  s.image.image_path = "/data/S1.jpg";
  s.normalization = "per_spot";
  write_prepared_h5ad(tmp / "whole.h5ad", s);
  ASSERT_EQ(read_prepared_h5ad(tmp / "whole.h5ad").labels, s.labels);
  int refused = corrupt_and_read(
      read_bytes(tmp / "whole.h5ad"), tmp / "damaged.h5ad",
      {[](const fs::path& p) { read_prepared_h5ad(p); },
       [](const fs::path& p) { read_h5ad_section(p, {"counts", false}); }});
  EXPECT_GT(refused, 100) << "most damage to metadata and heaps should be detected";
}

namespace {

// A raw-counts .h5ad with obs/array_row and obs/array_col as chunked 1-D datasets (chunks of 5), as
// anndata writes large columns.
void write_h5ad_with_chunked_columns(const fs::path& path) {
  PreparedSection s;
  s.id = "S1";
  for (int g = 0; g < 10; ++g) s.genes.push_back("GENE" + std::to_string(g));
  s.expression = Matrix(12, 10);
  for (size_t k = 0; k < s.expression.data.size(); ++k) s.expression.data[k] = float(k % 5);
  for (int i = 0; i < 12; ++i) {
    s.spot_ids.push_back("spot" + std::to_string(i));
    s.pixel_xy.push_back({5.0 + i, 7.0 + i});
  }
  s.normalization = "counts";
  write_prepared_h5ad(path, s);

  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hsize_t dims[1] = {12}, chunk[1] = {5};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  for (const char* name : {"obs/array_row", "obs/array_col"}) {
    std::vector<double> v(12);
    for (int i = 0; i < 12; ++i) v[size_t(i)] = double(i % 4);
    hid_t d = H5Dcreate2(f, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
    H5Dclose(d);
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
}

}  // namespace

// libhdf5 1.10.8 decodes a layout message whose version byte says 1 without checking the chunk
// dimensions it then divides by (H5D__chunk_set_info; found by fuzz_10x_h5, tests/fuzz/README.md):
// SIGFPE, whatever our layer checks first. `prepare` reads HDF5 sections once in a child process
// (check_section_in_child), so the user gets an error naming the file instead.
TEST(CorruptHdf5, ALibhdf5CrashIsANamedErrorFromPrepare) {
  test::TempDir tmp;
  const fs::path file = tmp / "S1.h5ad";
  write_h5ad_with_chunked_columns(file);
  ASSERT_EQ(read_h5ad_section(file).array_xy.size(), 12u) << "the undamaged file reads";

  // A version-3 chunked layout message of a 1-D dataset: 03 02 02, an 8-byte address, then the
  // chunk's dimensions as 4-byte integers: 5 and the element size 8. Say it is version 1.
  std::string bytes = read_bytes(file);
  const std::string tail("\x05\0\0\0\x08\0\0\0", 8);
  size_t at = std::string::npos;
  for (size_t i = 0; (i = bytes.find(tail, i)) != std::string::npos; ++i)
    if (i >= 11 && bytes.compare(i - 11, 3, "\x03\x02\x02") == 0) {
      at = i - 11;
      break;
    }
  ASSERT_NE(at, std::string::npos) << "no chunk layout message found";
  bytes[at] = 1;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;

  const std::string direct = outcome_in_child([&] { read_h5ad_section(file); });
  if (direct == "read" || direct == "InputError")
    GTEST_SKIP() << "this libhdf5 refuses the damaged layout itself (" << direct << ")";

  std::ofstream(tmp / "m.toml") << "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"S1.h5ad\"\n"
                                   "spot_diameter_px = 20\n";
  PrepareOptions opts;
  opts.manifest = tmp / "m.toml";
  opts.out = tmp / "store";
  opts.panel.top_mean = 5;
  opts.progress = false;
  try {
    prepare_dataset(opts);
    FAIL() << "prepared a damaged file";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(fs::path(e.file()).filename(), "S1.h5ad") << what;
    EXPECT_TRUE(what.find("crashed") != std::string::npos || what.find("exit code") != std::string::npos) << what;
    EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
    std::printf("[ crash ] direct read: %s; prepare: %s\n", direct.c_str(), what.c_str());
  }
  EXPECT_FALSE(fs::exists(tmp / "store")) << "no partial output";
}
