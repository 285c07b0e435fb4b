// Where this process stands in a torch.distributed-style launch, read once at start-up: from the
// flags (--dist-url tcp://host:port --rank R --world-size W), else from the environment torchrun
// sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), else from Slurm's srun
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR/MASTER_PORT from the batch script).
// A world of one (or no such environment) is a plain single-process run. Pure: the environment is
// passed in, so tests hit every rule directly.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hiscmcl::dist {

enum class Backend { automatic, gloo, nccl };
Backend parse_backend(const std::string& s);  // auto | gloo | nccl; InputError otherwise
const char* to_string(Backend b);

struct LaunchFlags {
  std::string url;          // tcp://host:port; "" = MASTER_ADDR / MASTER_PORT
  // kUnset: not given (from the environment). Any other value was given, so that a negative
  // --rank is answered as out of range rather than as missing.
  static constexpr int kUnset = -2147483647 - 1;
  int rank = kUnset;
  int world_size = kUnset;
  std::string backend = "auto";
  double timeout_s = 300;   // a rank that never joins or stops answering: the others give up after this
};

struct Launch {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string host = "127.0.0.1";
  uint16_t port = 29500;
  Backend backend = Backend::automatic;
  double timeout_s = 300;
  std::string source;       // "flags" | "torchrun" | "slurm" | "" (single process)
  bool distributed() const { return world_size > 1; }
};

using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment process_environment();

// InputError naming the flag or variable when a value is malformed or contradictory
// (rank outside 0..world-1, a URL that is not tcp://host:port, a port outside 1..65535).
Launch resolve_launch(const LaunchFlags& flags, const Environment& env);

// Deterministic shares: item i of n goes to a rank so that the summed weights stay balanced
// (largest first, to the least loaded rank, ties to the lower rank). Every rank computes the
// same answer. Returns the owner rank of each item.
std::vector<int> balanced_owners(const std::vector<int64_t>& weights, int world_size);
// Rows [begin, end) of rank r when n rows are split into world contiguous slices whose sizes
// differ by at most one (the first n % world slices one larger).
std::pair<int64_t, int64_t> slice_of(int64_t n, int rank, int world_size);

}  // namespace hiscmcl::dist
