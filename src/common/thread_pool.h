// parallel_for over [0, n) on a fixed number of std::threads (the --threads setting).
// Work items are handed out dynamically; the first exception thrown is rethrown to the caller.
#pragma once
#include <cstdint>
#include <functional>

namespace hiscmcl {

void set_num_threads(int n);  // <= 0: all cores
int num_threads();
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads = 0);

}  // namespace hiscmcl
