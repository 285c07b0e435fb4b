#include "common/file_names.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace hiscmcl {

std::string file_safe_name(std::string name) {
  // FNV-1a of the original: names that differ only in replaced characters ("Ö 1", "Ä 1") stay apart.
  uint32_t hash = 2166136261u;
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  bool changed = false;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_', changed = true;
  if (!changed) return name;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", hash);
  return name + suffix;
}

}  // namespace hiscmcl
