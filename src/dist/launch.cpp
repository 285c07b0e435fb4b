#include "dist/launch.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "common/error.h"

namespace hiscmcl::dist {
namespace {

int parse_int(const std::string& text, const std::string& name) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw InputError(name, "'" + text + "' is not a whole number");
  return int(v);
}

uint16_t parse_port(const std::string& text, const std::string& name) {
  int p = parse_int(text, name);
  if (p < 1 || p > 65535) throw InputError(name, "port " + text + " is outside 1..65535");
  return uint16_t(p);
}

// The launchers that announce a world through the environment, in the order they are trusted.
struct EnvLauncher {
  const char *world, *rank, *local_rank, *source;
};
constexpr EnvLauncher kEnvLaunchers[] = {
    {"WORLD_SIZE", "RANK", "LOCAL_RANK", "torchrun"},
    {"SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "slurm"},
};

const EnvLauncher* launcher_in(const Environment& env) {
  for (const auto& e : kEnvLaunchers)
    if (env(e.world)) return &e;
  return nullptr;
}

}  // namespace

Backend parse_backend(const std::string& s) {
  if (s == "auto" || s.empty()) return Backend::automatic;
  if (s == "gloo") return Backend::gloo;
  if (s == "nccl") return Backend::nccl;
  throw InputError("--dist-backend", "'" + s + "' is not one of auto, gloo, nccl");
}

const char* to_string(Backend b) {
  switch (b) {
    case Backend::gloo: return "gloo";
    case Backend::nccl: return "nccl";
    default: return "auto";
  }
}

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Launch resolve_launch(const LaunchFlags& flags, const Environment& env) {
  Launch l;
  l.backend = parse_backend(flags.backend);
  if (!(flags.timeout_s > 0)) throw InputError("--dist-timeout", "must be a positive number of seconds");
  l.timeout_s = flags.timeout_s;
  auto var = [&](const char* name) { return env(name); };

  // Rank and world: the flags, else torchrun's variables, else Slurm's.
  constexpr int unset = LaunchFlags::kUnset;
  const bool by_flags = flags.world_size != unset || flags.rank != unset || !flags.url.empty();
  std::string rank_name = "--rank", world_name = "--world-size";
  if (by_flags) {
    if (flags.world_size == unset || flags.rank == unset)
      throw InputError(flags.rank == unset ? "--rank" : "--world-size",
                       "not given: a launch by flags needs --dist-url, --rank and --world-size together");
    if (flags.world_size < 1)
      throw InputError("--world-size", std::to_string(flags.world_size) + " must be at least 1");
    if (flags.rank < 0 || flags.rank >= flags.world_size)
      throw InputError("--rank", std::to_string(flags.rank) + " must be between 0 and --world-size - 1 (" +
                                     std::to_string(flags.world_size - 1) + ")");
    l.rank = flags.rank, l.world_size = flags.world_size, l.source = "flags";
    if (auto lr = var("LOCAL_RANK")) l.local_rank = parse_int(*lr, "LOCAL_RANK");
  } else if (const EnvLauncher* e = launcher_in(env)) {
    world_name = e->world, rank_name = e->rank;
    l.world_size = parse_int(*var(e->world), e->world);
    auto r = var(e->rank);
    if (!r) throw InputError(e->rank, std::string(e->world) + " is set but " + e->rank + " is not");
    l.rank = parse_int(*r, e->rank);
    if (auto lr = var(e->local_rank)) l.local_rank = parse_int(*lr, e->local_rank);
    l.source = e->source;
  } else {
    return l;  // a plain run
  }
  if (l.world_size < 1) throw InputError(world_name, "must be at least 1");
  if (l.rank < 0 || l.rank >= l.world_size)
    throw InputError(rank_name, std::to_string(l.rank) + " is outside 0.." + std::to_string(l.world_size - 1));
  if (l.local_rank < 0) throw InputError("LOCAL_RANK", "must not be negative");
  if (l.world_size == 1) {
    l.source.clear();  // nothing to join
    return l;
  }

  // Rendezvous: rank 0's address.
  if (!flags.url.empty()) {
    const std::string prefix = "tcp://";
    if (flags.url.rfind(prefix, 0) != 0)
      throw InputError("--dist-url", "'" + flags.url + "' is not tcp://host:port");
    std::string rest = flags.url.substr(prefix.size());
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw InputError("--dist-url", "'" + flags.url + "' is not tcp://host:port");
    l.host = rest.substr(0, colon);
    if (l.host.size() > 2 && l.host.front() == '[' && l.host.back() == ']') l.host = l.host.substr(1, l.host.size() - 2);
    l.port = parse_port(rest.substr(colon + 1), "--dist-url");
  } else {
    auto addr = var("MASTER_ADDR");
    if (!addr || addr->empty())
      throw InputError("MASTER_ADDR", "a world of " + std::to_string(l.world_size) +
                                          " needs rank 0's address: set MASTER_ADDR and MASTER_PORT, or pass --dist-url");
    l.host = *addr;
    auto port = var("MASTER_PORT");
    if (!port) throw InputError("MASTER_PORT", "MASTER_ADDR is set but MASTER_PORT is not");
    l.port = parse_port(*port, "MASTER_PORT");
  }
  return l;
}

std::vector<int> balanced_owners(const std::vector<int64_t>& weights, int world_size) {
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weights[a] > weights[b]; });
  std::vector<int64_t> load(size_t(std::max(1, world_size)), 0);
  std::vector<int> owner(weights.size(), 0);
  for (size_t i : order) {
    int best = int(std::min_element(load.begin(), load.end()) - load.begin());  // first minimum: lowest rank
    owner[i] = best;
    load[size_t(best)] += weights[i];
  }
  return owner;
}

std::pair<int64_t, int64_t> slice_of(int64_t n, int rank, int world_size) {
  const int64_t base = n / world_size, extra = n % world_size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace hiscmcl::dist
