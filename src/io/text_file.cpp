#include "io/text_file.h"

#include <charconv>
#include <cmath>

#include <zlib.h>

#include <algorithm>
#include <system_error>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {

std::string read_maybe_gzipped(const fs::path& path) {
  if (!fs::exists(path)) throw InputError(path.string(), "file not found");
  if (fs::is_directory(path)) throw InputError(path.string(), "is a folder, expected a file");
  // Buffers sized to the file (at most 1 MiB): small files, most of them, then cost a few small
  // allocations instead of ~3 MiB of fresh pages per call. The read buffer doubles while gzip
  // output keeps filling it.
  constexpr size_t kMaxChunk = size_t(1) << 20;
  std::error_code size_ec;
  const uintmax_t on_disk = fs::file_size(path, size_ec);
  const size_t chunk = size_ec ? kMaxChunk
                               : size_t(std::clamp<uintmax_t>(on_disk + 1, 4096, kMaxChunk));
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw InputError(path.string(), "cannot open file");
  gzbuffer(gz, unsigned(chunk));
  std::string out;
  if (!size_ec) out.reserve(size_t(std::min<uintmax_t>(on_disk, uintmax_t(1) << 30)));
  std::vector<char> buf(chunk);
  for (;;) {
    int n = gzread(gz, buf.data(), unsigned(buf.size()));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(gz, &err);
      gzclose(gz);
      throw InputError(path.string(), "cannot read (corrupt gzip?): " + msg);
    }
    if (n == 0) break;
    out.append(buf.data(), size_t(n));
    if (size_t(n) == buf.size() && buf.size() < kMaxChunk) buf.resize(std::min(2 * buf.size(), kMaxChunk));
  }
  // A gzip stream cut short reads as a clean EOF with Z_BUF_ERROR pending.
  int err = 0;
  const char* msg = gzerror(gz, &err);
  std::string msg_copy = msg ? msg : "";
  gzclose(gz);
  if (err != Z_OK && err != Z_STREAM_END)
    throw InputError(path.string(), "truncated or corrupt gzip: " + msg_copy);
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string_view> split_fields(std::string_view line, char sep) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    size_t end = line.find(sep, start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      break;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return fields;
}

std::string_view trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string_view::npos ? std::string_view() : s.substr(a, b - a + 1);
}

std::string_view unquote(std::string_view f) {
  while (!f.empty() && (f.front() == ' ')) f.remove_prefix(1);
  while (!f.empty() && (f.back() == ' ')) f.remove_suffix(1);
  if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
  return f;
}

bool parse_finite_number(std::string_view f, double& out) {
  f = unquote(f);
  if (!f.empty() && f.front() == '+') f.remove_prefix(1);
  if (f.empty()) return false;
  auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
  return ec == std::errc() && ptr == f.data() + f.size() && std::isfinite(out);
}

}  // namespace hiscmcl
