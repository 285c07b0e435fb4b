// Runs a check in a forked child process, so that a crash inside a third-party library (libhdf5
// 1.10 on some corrupt files: see tests/fuzz/README.md) becomes an InputError naming the file
// instead of killing the program. The child's InputError comes back as the same InputError;
// any other exception as a runtime_error with its message.
//
// A fork copies only the calling thread: call it from the main thread while no other thread is
// inside the library being guarded (the child would wait for a lock nobody releases).
#pragma once
#include <functional>
#include <string>

namespace hiscmcl {

void run_isolated(const std::string& file, const std::function<void()>& check);

}  // namespace hiscmcl
