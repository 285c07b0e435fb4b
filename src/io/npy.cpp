#include "io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "common/atomic_output.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// The value text of 'key' in the header dict (a quoted string, a tuple, or a bare word).
std::string dict_value(const std::string& dict, const std::string& key, const std::string& file) {
  size_t k = dict.find("'" + key + "'");
  if (k == std::string::npos) k = dict.find("\"" + key + "\"");
  if (k == std::string::npos) throw InputError(file, "npy header has no '" + key + "'", "header");
  size_t colon = dict.find(':', k);
  if (colon == std::string::npos) throw InputError(file, "malformed npy header", "header");
  size_t v = dict.find_first_not_of(" \t", colon + 1);
  if (v == std::string::npos) throw InputError(file, "malformed npy header", "header");
  char c = dict[v];
  if (c == '\'' || c == '"') {
    size_t e = dict.find(c, v + 1);
    if (e == std::string::npos) throw InputError(file, "malformed npy header", "header");
    return dict.substr(v + 1, e - v - 1);
  }
  if (c == '(') {
    size_t e = dict.find(')', v);
    if (e == std::string::npos) throw InputError(file, "malformed npy header", "header");
    return dict.substr(v, e - v + 1);
  }
  size_t e = dict.find_first_of(",}", v);
  std::string word = dict.substr(v, e == std::string::npos ? std::string::npos : e - v);
  while (!word.empty() && (word.back() == ' ' || word.back() == '\t')) word.pop_back();
  return word;
}

NpyHeader read_header(std::ifstream& f, const std::string& file) {
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw InputError(file, "not a .npy file (bad magic)");
  uint8_t major = uint8_t(magic[6]);
  uint32_t len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!f.read(reinterpret_cast<char*>(b), 2)) throw InputError(file, "truncated npy header");
    len = uint32_t(b[0]) | uint32_t(b[1]) << 8;
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!f.read(reinterpret_cast<char*>(b), 4)) throw InputError(file, "truncated npy header");
    len = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  } else {
    throw InputError(file, "unsupported npy format version " + std::to_string(major));
  }
  if (len > (1u << 24)) throw InputError(file, "implausible npy header length");
  std::string dict(len, '\0');
  if (!f.read(dict.data(), len)) throw InputError(file, "truncated npy header");

  NpyHeader h;
  h.descr = dict_value(dict, "descr", file);
  h.fortran_order = dict_value(dict, "fortran_order", file) == "True";
  std::string shape = dict_value(dict, "shape", file);
  if (shape.empty() || shape.front() != '(')
    throw InputError(file, "malformed npy shape '" + shape + "'", "header");
  std::string num;
  for (char c : shape.substr(1)) {
    if (c >= '0' && c <= '9') {
      num += c;
    } else if (c == ',' || c == ')') {
      if (num.size() > 15) throw InputError(file, "implausible npy dimension " + num, "header");
      if (!num.empty()) h.shape.push_back(std::stoll(num));
      num.clear();
    } else if (c != ' ' && c != 'L') {
      throw InputError(file, "malformed npy shape '" + shape + "'", "header");
    }
  }
  if (h.descr.find('O') != std::string::npos)
    throw InputError(file, "pickled .npy is not supported; convert to a .txt list (one gene a line)");
  return h;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Bytes after the header: data sizes are checked against it before anything is allocated, so a
// header claiming 10^15 elements is a truncated file, not a 4 PB allocation.
uint64_t bytes_left(std::ifstream& f) {
  const std::streampos here = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streampos end = f.tellg();
  f.seekg(here);
  return here >= 0 && end >= here ? uint64_t(end - here) : 0;
}

}  // namespace

std::vector<std::string> read_npy_strings(const fs::path& path) {
  const std::string file = path.string();
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(file, fs::exists(path) ? "cannot read" : "file not found");
  NpyHeader h = read_header(f, file);
  if (h.shape.size() != 1)
    throw InputError(file, "expected a 1-D array of strings, got " +
                               std::to_string(h.shape.size()) + " dimensions");
  const std::string& d = h.descr;
  if (d.size() < 3 || (d[1] != 'U' && d[1] != 'S'))
    throw InputError(file, "expected fixed-width strings (<U or |S), got dtype '" + d + "'");
  const bool unicode = d[1] == 'U';
  const bool big_endian = d[0] == '>';
  const std::string width_digits = d.substr(2);
  if (width_digits.size() > 9 || width_digits.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(width_digits) == 0)
    throw InputError(file, "bad string width in dtype '" + d + "'");
  const int64_t width = std::stoll(width_digits);
  const int64_t item = unicode ? 4 * width : width;
  const int64_t n = h.shape[0];
  if (uint64_t(n) > bytes_left(f) / uint64_t(item))
    throw InputError(file, "truncated data: expected " + std::to_string(n) + " strings");
  std::vector<char> buf(size_t(n * item));
  if (!f.read(buf.data(), std::streamsize(buf.size())))
    throw InputError(file, "truncated data: expected " + std::to_string(n) + " strings");

  std::vector<std::string> out;
  out.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(buf.data()) + i * item;
    std::string s;
    if (unicode) {
      for (int64_t c = 0; c < width; ++c) {
        const unsigned char* q = p + 4 * c;
        uint32_t cp = big_endian ? (uint32_t(q[0]) << 24 | uint32_t(q[1]) << 16 |
                                    uint32_t(q[2]) << 8 | q[3])
                                 : (uint32_t(q[3]) << 24 | uint32_t(q[2]) << 16 |
                                    uint32_t(q[1]) << 8 | q[0]);
        if (cp == 0) break;  // NUL padding
        append_utf8(s, cp);
      }
    } else {
      int64_t len = 0;
      while (len < width && p[len] != 0) ++len;
      s.assign(reinterpret_cast<const char*>(p), size_t(len));
    }
    out.push_back(std::move(s));
  }
  return out;
}

void write_npy_features(const fs::path& path, const Matrix& m, FeatureDtype dtype) {
  const bool half = dtype == FeatureDtype::float16;
  std::string dict = std::string("{'descr': '") + (half ? "<f2" : "<f4") + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(m.rows) + ", " + std::to_string(m.cols) + "), }";
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary);
    if (!f) throw InputError(path.string(), "cannot open for writing");
    const uint16_t len = uint16_t(dict.size());
    const char ver[2] = {1, 0};
    f.write("\x93NUMPY", 6);
    f.write(ver, 2);
    const char lenb[2] = {char(len & 0xFF), char(len >> 8)};
    f.write(lenb, 2);
    f.write(dict.data(), std::streamsize(dict.size()));
    // x86/ARM hosts are little-endian, which '<f4' and '<f2' are.
    if (half) {
      std::vector<uint16_t> row(size_t(m.cols));
      for (int64_t r = 0; r < m.rows; ++r) {
        for (int64_t c = 0; c < m.cols; ++c) row[size_t(c)] = float_to_half(m(r, c));
        f.write(reinterpret_cast<const char*>(row.data()), std::streamsize(row.size() * 2));
      }
    } else {
      f.write(reinterpret_cast<const char*>(m.data.data()), std::streamsize(m.data.size() * sizeof(float)));
    }
    f.close();  // a full disk shows at the last flush
    if (!f) throw InputError(path.string(), "write failed (disk full?)");
  }
  out.commit();
}

void write_npy_f32(const fs::path& path, const Matrix& m) { write_npy_features(path, m, FeatureDtype::float32); }

namespace {

// The header of a 2-D float feature file, checked against the file's size; f is left at the data.
struct FeatureHeader {
  int64_t rows = 0, cols = 0;
  FeatureDtype dtype = FeatureDtype::float32;
  uint64_t data_offset = 0;
};

FeatureHeader read_feature_header(std::ifstream& f, const std::string& file) {
  NpyHeader h = read_header(f, file);
  FeatureHeader out;
  if (h.descr == "<f2") out.dtype = FeatureDtype::float16;
  else if (h.descr != "<f4") throw InputError(file, "expected dtype '<f4' or '<f2', got '" + h.descr + "'");
  if (h.fortran_order) throw InputError(file, "Fortran-order arrays are not supported");
  if (h.shape.size() != 2)
    throw InputError(file, "expected a 2-D array, got " + std::to_string(h.shape.size()) +
                               " dimensions");
  out.rows = h.shape[0];
  out.cols = h.shape[1];
  const uint64_t item = uint64_t(dtype_bytes(out.dtype));
  if (out.rows > 0 && out.cols > 0 && uint64_t(out.cols) > bytes_left(f) / item / uint64_t(out.rows))
    throw InputError(file, "truncated data: expected " + std::to_string(out.rows) + "x" +
                               std::to_string(out.cols) + (item == 2 ? " float16" : " float32") + " values");
  out.data_offset = uint64_t(f.tellg());
  return out;
}

}  // namespace

Matrix read_npy_f32(const fs::path& path) {
  return map_npy_features(path).to_matrix();
}

FeatureMatrix map_npy_features(const fs::path& path) {
  const std::string file = path.string();
  FeatureHeader h;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw InputError(file, fs::exists(path) ? "cannot read" : "file not found");
    h = read_feature_header(f, file);
  }
  const uint64_t bytes = uint64_t(h.rows * h.cols * dtype_bytes(h.dtype));
  if (bytes == 0) return FeatureMatrix(h.rows, h.cols, h.dtype, nullptr, nullptr, false);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(file, "cannot open: " + std::string(std::strerror(errno)));
  // The size of the file mapped, not of the one whose header was read: a mapping past the end
  // of a file would fault on reading (SIGBUS) instead of failing here.
  struct stat st {};
  const size_t length = size_t(h.data_offset + bytes);
  if (::fstat(fd, &st) != 0 || uint64_t(st.st_size) < length) {
    ::close(fd);
    throw InputError(file, "truncated data: expected " + std::to_string(h.rows) + "x" + std::to_string(h.cols) + " values");
  }
  void* base = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping keeps the file
  if (base == MAP_FAILED) throw InputError(file, "cannot memory-map: " + std::string(std::strerror(mmap_errno)));
  std::shared_ptr<const void> owner(base, [length](const void* p) { ::munmap(const_cast<void*>(p), length); });
  const char* data = static_cast<const char*>(base) + h.data_offset;
  if (h.data_offset % uint64_t(dtype_bytes(h.dtype)) != 0) {
    // numpy pads headers to 16 or 64 bytes; a file that does not is read into aligned memory.
    auto copy = std::make_shared<std::vector<uint32_t>>((bytes + 3) / 4);
    std::memcpy(copy->data(), data, bytes);
    const void* p = copy->data();
    return FeatureMatrix(h.rows, h.cols, h.dtype, p, std::move(copy), false);
  }
  return FeatureMatrix(h.rows, h.cols, h.dtype, data, std::move(owner), true);
}

}  // namespace hiscmcl
