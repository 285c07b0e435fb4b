// read_maybe_gzipped: plain and gzip files of every size relative to its buffers (sized to the
// file, at least 4 KiB, at most 1 MiB; the read buffer doubles while gzip output fills it),
// byte for byte, and the errors it reports.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <random>
#include <string>

#include "common/error.h"
#include "io/text_file.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string gzipped(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper
  std::string out(deflateBound(&z, uLong(text.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = uInt(text.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Table-like text: compresses well (gzip output far larger than the file), with some noise.
std::string text_of(size_t n) {
  std::mt19937 rng(7);
  std::string s;
  s.reserve(n);
  while (s.size() < n) s += "gene_" + std::to_string(rng() % 97) + "\t" + std::to_string(rng() % 5) + "\n";
  s.resize(n);
  return s;
}

}  // namespace

TEST(TextFile, PlainAndGzipOfEverySizeReadBackExactly) {
  test::TempDir tmp;
  for (size_t n : {size_t(0), size_t(1), size_t(4095), size_t(4096), size_t(4097), size_t(100000),
                   size_t(1) << 20, (size_t(1) << 20) + 1, size_t(3) << 20}) {
    const std::string text = text_of(n);
    write_bytes(tmp / "t.tsv", text);
    EXPECT_EQ(read_maybe_gzipped(tmp / "t.tsv"), text) << n;
    write_bytes(tmp / "t.tsv.gz", gzipped(text));
    EXPECT_EQ(read_maybe_gzipped(tmp / "t.tsv.gz"), text) << n;
  }
}

TEST(TextFile, MissingFolderOrCutGzipAreInputErrors) {
  test::TempDir tmp;
  std::string msg = test::input_error_of([&] { read_maybe_gzipped(tmp / "none.tsv"); });
  EXPECT_NE(msg.find("none.tsv: file not found"), std::string::npos) << msg;
  msg = test::input_error_of([&] { read_maybe_gzipped(tmp.path); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
  const std::string gz = gzipped(text_of(200000));
  write_bytes(tmp / "cut.gz", gz.substr(0, gz.size() / 2));
  msg = test::input_error_of([&] { read_maybe_gzipped(tmp / "cut.gz"); });
  EXPECT_NE(msg.find("cut.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gzip"), std::string::npos) << msg;
}
