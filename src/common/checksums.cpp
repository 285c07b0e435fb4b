#include "common/checksums.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/atomic_output.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

uint32_t file_crc32(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw InputError(p.string(), "cannot read");
  std::vector<char> buf(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (f) {
    f.read(buf.data(), std::streamsize(buf.size()));
    const std::streamsize n = f.gcount();
    if (n > 0) crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), uInt(n));
  }
  return uint32_t(crc);
}

bool listed(const fs::path& rel) {
  const std::string name = rel.filename().string();
  return name != kChecksumFile && name != ".hiscmcl-lock";
}

}  // namespace

void write_checksum_list(const fs::path& dir) {
  std::vector<fs::path> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && listed(fs::relative(e.path(), dir))) files.push_back(fs::relative(e.path(), dir));
  std::sort(files.begin(), files.end());
  std::ostringstream out;
  for (const auto& rel : files) {
    char crc[16];
    std::snprintf(crc, sizeof crc, "%08x", file_crc32(dir / rel));
    out << crc << " " << fs::file_size(dir / rel) << " " << rel.generic_string() << "\n";
  }
  write_text_file(dir / kChecksumFile, out.str());
}

bool verify_checksum_list(const fs::path& dir) {
  const fs::path list = dir / kChecksumFile;
  if (!fs::exists(list)) return false;
  std::istringstream in(read_text_file(list));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::istringstream fields(line);
    std::string crc, rel;
    uintmax_t size = 0;
    if (!(fields >> crc >> size) || !std::getline(fields >> std::ws, rel) || rel.empty())
      throw InputError(list.string(), "damaged checksum list", "line " + std::to_string(n));
    const fs::path file = dir / rel;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw InputError(file.string(), "missing from the folder (listed in " + std::string(kChecksumFile) + ")");
    if (fs::file_size(file, ec) != size)
      throw InputError(file.string(), "damaged: its size differs from when it was written (" + std::string(kChecksumFile) + ")");
    char actual[16];
    std::snprintf(actual, sizeof actual, "%08x", file_crc32(file));
    if (crc != actual)
      throw InputError(file.string(), "damaged: its content changed since it was written (checksum " + std::string(actual) +
                                          ", " + kChecksumFile + " says " + crc + ")");
  }
  return true;
}

}  // namespace hiscmcl
