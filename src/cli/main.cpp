// hiscmcl: predict spatial gene expression from H&E histology (HisCMCL).
#include <ATen/Parallel.h>
#include <opencv2/core.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "common/blas_kernel.h"
#include "common/error.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "dist/process_group.h"

namespace hiscmcl::cli {
std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}
}  // namespace hiscmcl::cli

namespace {

// --threads for our pool, LibTorch and OpenCV alike; false (with the message) when out of range.
bool use_threads(int threads) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  // Threads are created one by one; a typo such as 100000 would hang for minutes before any output.
  if (threads < 0 || threads > 8 * cores) {
    spdlog::error("--threads {}: must be between 1 and {} (8 x the {} cores here); 0 or none means all cores",
                  threads, 8 * cores, cores);
    return false;
  }
  const int n = threads > 0 ? threads : cores;
  hiscmcl::set_num_threads(n);
  at::set_num_threads(n);  // LibTorch starts with 1 thread here unless told
  cv::setNumThreads(n);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hiscmcl;
  restart_with_better_blas_kernels(argv);  // first: OpenBLAS reads its kernel choice only at load
  // Training frees and takes back the same few-MB blocks every batch; by default glibc hands them
  // to the kernel and faults them in again (13% of her2st training time under perf). Keep them.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  CLI::App app{"hiscmcl: predict spatial gene expression from H&E histology (HisCMCL)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hiscmcl 0.1.0");

  int threads = 0;
  bool verbose = false, quiet = false;
  dist::LaunchFlags launch_flags;
  const char* kDist = "Distributed (torch.distributed; also RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, Slurm)";
  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& info : registry) {
    CLI::App* sub = app.add_subcommand(info.name, info.description);
    sub->add_option("--threads", threads, "Worker threads (default: all cores)");
    sub->add_flag("--verbose,-v", verbose, "More log output");
    sub->add_flag("--quiet,-q", quiet, "Only warnings and errors; no progress bars");
    sub->add_option("--dist-url", launch_flags.url, "Rank 0's rendezvous tcp://host:port (else MASTER_ADDR, MASTER_PORT)")->group(kDist);
    sub->add_option("--rank", launch_flags.rank, "This process's rank (else RANK or SLURM_PROCID)")->group(kDist);
    sub->add_option("--world-size", launch_flags.world_size, "Processes in all (else WORLD_SIZE or SLURM_NTASKS)")->group(kDist);
    sub->add_option("--dist-backend", launch_flags.backend, "auto (Gloo: every collective carries CPU tensors today) | gloo | nccl")->group(kDist);
    sub->add_option("--dist-timeout", launch_flags.timeout_s,
                    "Seconds the ranks wait for one that never joins or stops answering (default 300)")->group(kDist);
    runners.emplace_back(sub, info.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  set_verbosity(quiet ? Verbosity::quiet : verbose ? Verbosity::verbose : Verbosity::normal);
  if (!use_threads(threads)) return 2;

  try {
    for (size_t i = 0; i < runners.size(); ++i) {
      auto& [sub, run] = runners[i];
      if (!sub->parsed()) continue;
      const dist::Launch launch = dist::resolve_launch(launch_flags, dist::process_environment());
      if (launch.distributed() && !registry[i].distributed) {
        if (launch.rank != 0) {
          spdlog::info("rank {} of {}: `{}` runs on rank 0 alone", launch.rank, launch.world_size, registry[i].name);
          return 0;
        }
        spdlog::warn("`{}` does not spread over ranks: rank 0 runs it alone", registry[i].name);
      } else if (launch.distributed()) {
        // Every collective today carries CPU tensors (frozen training runs on the CPU; the embed
        // only waits), so automatic is Gloo; NCCL is for CUDA tensors (--dist-backend nccl).
        dist::join(launch, /*on_cuda=*/false);
        if (!dist::is_main()) {  // rank 0 alone shows progress; the others only warnings and errors
          set_log_prefix(fmt::format("[rank {}] ", launch.rank));
          set_progress_bars(false);
          if (!verbose) set_verbosity(Verbosity::quiet);
        }
      }
      const int rc = run();
      if (rc == 0) dist::leave();
      return rc;
    }
  } catch (const InputError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 1;
}
