// The process group of a distributed run (torch.distributed's c10d): joined once at start-up when
// a launch names a world of more than one, left at exit. Rank 0 hosts the rendezvous (a c10d
// TCPStore); the collectives run over Gloo for CPU tensors and NCCL for CUDA ones (collectives.h). Every rank
// also beats a heartbeat into the store once a second, so a rank that died is named: by the
// waits here, and in the message that replaces a failed collective's.
// Without a launch every query answers as a single process (rank 0 of 1) and nothing is joined.
#pragma once
#include <stdexcept>
#include <string>

#include "dist/launch.h"

namespace hiscmcl::dist {

// A rank missing, dead or unreachable; the message names it. The CLI exits non-zero on it.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Joins the world of `launch` (no-op when it is one process): waits up to launch.timeout_s for
// every rank, naming the ranks that never came, then builds the collective backend (on_cuda:
// NCCL where automatic). Logs "rank R of W joined".
void join(const Launch& launch, bool on_cuda);
// Waits for every rank (so rank 0's outputs are complete before anyone exits), then leaves.
void leave();

bool active();        // in a world of more than one, and not inside a LocalScope
int rank();           // 0 when not active
int world_size();     // 1 when not active
int local_rank();
bool is_main();       // rank 0: the one that shows progress and writes shared outputs

// Until every rank has called wait_for_all with the same `what` (calls match in order). No time
// limit while every rank is alive (a long embed on one rank is fine); DistError naming the rank
// whose heartbeat stopped for longer than the heartbeat limit.
void wait_for_all(const std::string& what);

// The message for a failed collective: which ranks stopped beating (dead), or that rank 0, which
// holds the rendezvous, is unreachable, and the original error.
std::string explain_failure(const std::string& what, const std::string& error);

// Inside, the process acts as a single process (active() is false): work a rank owns alone, such
// as a cv fold, runs without collectives.
class LocalScope {
 public:
  LocalScope();
  ~LocalScope();
  LocalScope(const LocalScope&) = delete;
  LocalScope& operator=(const LocalScope&) = delete;
};

}  // namespace hiscmcl::dist
