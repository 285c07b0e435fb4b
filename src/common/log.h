// Logging through spdlog; verbosity set once by the CLI (--verbose / --quiet).
#pragma once
#include <spdlog/spdlog.h>

#include <string>

namespace hiscmcl {

enum class Verbosity { quiet, normal, verbose };
void set_verbosity(Verbosity v);
Verbosity verbosity();
// Text before every message (a distributed rank's "[rank 1] ").
void set_log_prefix(const std::string& prefix);
// Progress bars on (default) or off regardless of verbosity (ranks other than 0).
void set_progress_bars(bool on);
bool progress_bars();

}  // namespace hiscmcl
