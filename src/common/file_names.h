// Names made safe to use as a file name: anything but letters, digits, '-', '_' and '.' becomes
// '_', and a name that needed that gets a short hash of the original appended ("Ö 1" becomes
// "___1-" and 8 hex digits), so two ids never share a file. A safe name is returned as it is.
#pragma once
#include <string>

namespace hiscmcl {

std::string file_safe_name(std::string name);

}  // namespace hiscmcl
