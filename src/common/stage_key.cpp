#include "common/stage_key.h"

#include <algorithm>
#include <cstdio>

namespace fs = std::filesystem;

namespace hiscmcl {

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  auto p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string stage_key(const nlohmann::json& inputs) {
  const std::string text = inputs.dump();
  // Two FNV-1a passes with different offsets: 128 bits, so unrelated inputs never collide in practice.
  const uint64_t a = fnv1a64(text.data(), text.size());
  const uint64_t b = fnv1a64(text.data(), text.size(), 0x84222325cbf29ce4ull);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
  return hex;
}

nlohmann::json file_stamp(const fs::path& path) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return nullptr;
  auto stamp = [](const fs::path& p) {
    std::error_code e;
    return nlohmann::json{{"path", fs::absolute(p).lexically_normal().string()},
                          {"size", fs::file_size(p, e)},
                          {"mtime", int64_t(fs::last_write_time(p, e).time_since_epoch().count())}};
  };
  if (!fs::is_directory(path, ec)) return stamp(path);
  nlohmann::json files = nlohmann::json::array();
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(stamp(it->path()));
  std::sort(files.begin(), files.end(), [](const auto& x, const auto& y) { return x["path"] < y["path"]; });
  return files;
}

}  // namespace hiscmcl
