#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace hiscmcl {
namespace {
Verbosity g_verbosity = Verbosity::normal;
bool g_progress = true;
}

void set_verbosity(Verbosity v) {
  g_verbosity = v;
  static bool configured = false;
  if (!configured) {
    auto logger = spdlog::stderr_color_mt("hiscmcl");
    logger->set_pattern("%^[%l]%$ %v");
    spdlog::set_default_logger(logger);
    configured = true;
  }
  spdlog::set_level(v == Verbosity::quiet     ? spdlog::level::warn
                    : v == Verbosity::verbose ? spdlog::level::debug
                                              : spdlog::level::info);
}

Verbosity verbosity() { return g_verbosity; }

void set_log_prefix(const std::string& prefix) {
  set_verbosity(g_verbosity);  // the logger exists
  spdlog::default_logger()->set_pattern("%^[%l]%$ " + prefix + "%v");
}

void set_progress_bars(bool on) { g_progress = on; }
bool progress_bars() { return g_progress; }

}  // namespace hiscmcl
