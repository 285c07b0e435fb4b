// Names made safe to use as a file name: anything but letters, digits, '-', '_' and '.' becomes '_'.
#pragma once
#include <string>

namespace hiscmcl {

std::string file_safe_name(std::string name);

}  // namespace hiscmcl
