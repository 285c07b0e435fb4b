// Logging through spdlog; verbosity set once by the CLI (--verbose / --quiet).
#pragma once
#include <spdlog/spdlog.h>

namespace hiscmcl {

enum class Verbosity { quiet, normal, verbose };
void set_verbosity(Verbosity v);
Verbosity verbosity();

}  // namespace hiscmcl
