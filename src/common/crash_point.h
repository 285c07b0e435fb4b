// A test hook for crash safety: crash_point("name") kills the process with SIGKILL when the
// environment variable HISCMCL_CRASH_AT equals "name" (as a killed job would be), and does nothing
// otherwise. Tests kill a run at each point and check that the next run gives the same result.
#pragma once

namespace hiscmcl {

void crash_point(const char* name);

}  // namespace hiscmcl
