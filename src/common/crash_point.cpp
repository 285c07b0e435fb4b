#include "common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace hiscmcl {

void crash_point(const char* name) {
  static const char* wanted = std::getenv("HISCMCL_CRASH_AT");
  if (wanted && std::strcmp(wanted, name) == 0) ::kill(::getpid(), SIGKILL);
}

void fail_point(const char* name, const std::string& file) {
  static const char* wanted = std::getenv("HISCMCL_FAIL_AT");
  if (wanted && std::strcmp(wanted, name) == 0)
    throw InputError(file, std::string("write failed (injected: HISCMCL_FAIL_AT=") + name + ")");
}

}  // namespace hiscmcl
