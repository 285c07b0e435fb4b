#include "common/file_names.h"

#include <cctype>

namespace hiscmcl {

std::string file_safe_name(std::string name) {
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return name;
}

}  // namespace hiscmcl
