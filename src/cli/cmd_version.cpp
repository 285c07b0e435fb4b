// `hiscmcl info`: versions and the threads/BLAS LibTorch will use; handy in bug reports.
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <opencv2/core/version.hpp>

#include <iostream>

#include "cli/command.h"

namespace hiscmcl::cli {
namespace {
CommandRegistrar reg("info", "Print versions, threads and LibTorch's parallel/BLAS configuration",
                     [](CLI::App&) -> std::function<int()> {
                       return [] {
                         std::cout << "hiscmcl 0.1.0\nOpenCV " << CV_VERSION << "\n"
                                   << at::get_parallel_info() << "\n"
                                   << at::show_config() << std::endl;
                         return 0;
                       };
                     });
}
}  // namespace hiscmcl::cli
