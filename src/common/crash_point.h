// A test hook for crash safety: crash_point("name") kills the process with SIGKILL when the
// environment variable HISCMCL_CRASH_AT equals "name" (as a killed job would be), and does nothing
// otherwise. Tests kill a run at each point and check that the next run gives the same result.
#pragma once
#include <string>

namespace hiscmcl {

void crash_point(const char* name);
// The same for a failed write: throws InputError naming `file` when HISCMCL_FAIL_AT equals "name",
// so a test can fail a step partway (a slide whose tiling breaks) where a full disk cannot reach.
void fail_point(const char* name, const std::string& file);

}  // namespace hiscmcl
