#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "common/log.h"
#include "dist/c10d_world.h"

namespace hiscmcl::dist {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds ms_of(double seconds) { return milliseconds(int64_t(seconds * 1000)); }

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

// A dead rank stops beating: after this long the waits name it (never longer than the timeout).
constexpr double kBeatSeconds = 1.0, kSilentSeconds = 15.0;

struct World {
  Launch launch;
  Backend backend = Backend::gloo;
  c10::intrusive_ptr<c10d::Store> store;  // rank 0: the server
  c10::intrusive_ptr<C10dGroup> group;  // c10d_compat.h
  std::thread heartbeat;
  std::atomic<bool> stop{false};
  int64_t waits = 0;

  std::string where() const { return launch.host + ":" + std::to_string(launch.port); }
  double silent_limit() const { return std::min(kSilentSeconds, launch.timeout_s); }

  void start_heartbeat() {
    // Its own connection: a TCPStore client is used by one thread at a time.
    c10d::TCPStoreOptions o = tcp_store_options();  // c10d_compat.h
    o.port = launch.port;
    o.isServer = false;
    o.timeout = milliseconds(5000);
    auto beat_store = c10::make_intrusive<c10d::TCPStore>(launch.host, o);
    const std::string key = "hb/" + std::to_string(launch.rank);
    heartbeat = std::thread([this, beat_store, key] {
      int64_t n = 0;
      while (!stop) {
        try {
          beat_store->set(key, std::vector<uint8_t>(1, uint8_t(++n & 0xff)));
        } catch (...) {
          return;  // the rendezvous is gone: the main thread's waits report it
        }
        for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(ms_of(kBeatSeconds / 10));
      }
    });
  }
  void stop_heartbeat() {
    stop = true;
    if (heartbeat.joinable()) heartbeat.join();
  }
  ~World() { stop_heartbeat(); }

  // Each rank's last heartbeat value (-1: never beat).
  std::vector<int> beats() {
    std::vector<int> v(size_t(launch.world_size), -1);
    for (int r = 0; r < launch.world_size; ++r) {
      const std::string key = "hb/" + std::to_string(r);
      if (store->check({key})) v[size_t(r)] = store->get(key).at(0);
    }
    return v;
  }
};

std::unique_ptr<World> g_world;
std::atomic<int> g_local_depth{0};

// Watches heartbeats while waiting: ranks whose beat has not changed for the silent limit.
struct BeatWatch {
  World& w;
  std::vector<int> last;
  std::vector<Clock::time_point> since;
  explicit BeatWatch(World& world) : w(world), last(world.beats()), since(last.size(), Clock::now()) {}
  std::vector<int> silent() {
    auto now = Clock::now();
    auto b = w.beats();
    std::vector<int> out;
    for (size_t r = 0; r < b.size(); ++r) {
      if (b[r] != last[r]) last[r] = b[r], since[r] = now;
      if (int(r) != w.launch.rank && std::chrono::duration<double>(now - since[r]).count() > w.silent_limit())
        out.push_back(int(r));
    }
    return out;
  }
};

World& world() {
  if (!g_world) throw DistError("no process group joined");
  return *g_world;
}

void make_group(World& w, bool on_cuda) {
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("c10d", w.store);
  const Launch& l = w.launch;
  Backend b = l.backend == Backend::automatic ? (on_cuda ? Backend::nccl : Backend::gloo) : l.backend;
  if (b == Backend::nccl) {
#ifdef USE_C10D_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = ms_of(l.timeout_s);
    w.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, l.rank, l.world_size, opts);
    w.backend = b;
    return;
#else
    if (l.backend == Backend::nccl)
      throw DistError("--dist-backend nccl: this build's LibTorch has no NCCL (build against a CUDA LibTorch)");
    b = Backend::gloo;
#endif
  }
  auto opts = c10d::ProcessGroupGloo::Options::create(ms_of(l.timeout_s));
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (l.host == "127.0.0.1" || l.host == "localhost")
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 2;
  w.group = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, l.rank, l.world_size, opts);
  w.backend = Backend::gloo;
}

}  // namespace

C10dGroup& c10d_group() { return *world().group; }

void join(const Launch& l, bool on_cuda) {
  if (!l.distributed()) return;
  auto w = std::make_unique<World>();
  w->launch = l;
  const std::string who = "rank " + std::to_string(l.rank) + " of " + std::to_string(l.world_size);
  c10d::TCPStoreOptions o = tcp_store_options();  // c10d_compat.h
  o.port = l.port;
  o.isServer = l.rank == 0;
  o.numWorkers = size_t(l.world_size);
  o.waitWorkers = false;  // we wait ourselves, to name the ranks that never came
  o.timeout = ms_of(l.timeout_s);
  try {
    w->store = c10::make_intrusive<c10d::TCPStore>(l.host, o);
  } catch (const std::exception& e) {
    throw DistError(l.rank == 0 ? who + ": could not open the rendezvous at " + w->where() + ": " + e.what()
                                : who + ": rank 0's rendezvous at " + w->where() + " did not answer within " +
                                      fmt::format("{:g}", l.timeout_s) + " s (--dist-timeout): " + e.what());
  }
  const std::string me = hostname() + " pid " + std::to_string(getpid());
  w->store->set("joined/" + std::to_string(l.rank), std::vector<uint8_t>(me.begin(), me.end()));
  w->start_heartbeat();
  const auto deadline = Clock::now() + ms_of(l.timeout_s);
  for (;;) {
    std::vector<int> missing;
    for (int r = 0; r < l.world_size; ++r)
      if (!w->store->check({"joined/" + std::to_string(r)})) missing.push_back(r);
    if (missing.empty()) break;
    if (Clock::now() > deadline)
      throw DistError(fmt::format("{}: rank{} {} of {} never joined within {:g} s (--dist-timeout)", who,
                                  missing.size() > 1 ? "s" : "", join_ranks(missing), l.world_size, l.timeout_s));
    std::this_thread::sleep_for(milliseconds(50));
  }
  try {
    make_group(*w, on_cuda);
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError(who + ": building the " + std::string(to_string(l.backend)) + " process group failed: " + e.what());
  }
  spdlog::info("{} joined ({}, {} at {})", who, w->backend == Backend::nccl ? "nccl" : "gloo",
               l.source, w->where());
  g_world = std::move(w);
}

void leave() {
  if (!g_world) return;
  World& w = *g_world;
  wait_for_all("exit");
  // Rank 0 holds the store: it closes last, once every other rank has stopped using it.
  w.stop_heartbeat();
  w.store->add("left", 1);
  if (w.launch.rank == 0) {
    const auto deadline = Clock::now() + ms_of(w.silent_limit());
    while (w.store->add("left", 0) < w.launch.world_size && Clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(20));
  }
  g_world.reset();
}

bool active() { return g_world && g_local_depth == 0; }
int rank() { return active() ? g_world->launch.rank : 0; }
int world_size() { return active() ? g_world->launch.world_size : 1; }
int local_rank() { return g_world ? g_world->launch.local_rank : 0; }
bool is_main() { return !g_world || g_world->launch.rank == 0; }

void wait_for_all(const std::string& what) {
  if (!g_world) return;
  World& w = *g_world;
  const std::string tag = "wait/" + std::to_string(++w.waits);
  try {
    w.store->set(tag + "/" + std::to_string(w.launch.rank), std::vector<uint8_t>{1});
    BeatWatch watch(w);
    auto next_check = Clock::now();
    for (;;) {
      std::vector<int> missing;
      for (int r = 0; r < w.launch.world_size; ++r)
        if (!w.store->check({tag + "/" + std::to_string(r)})) missing.push_back(r);
      if (missing.empty()) return;
      if (Clock::now() >= next_check) {
        next_check = Clock::now() + ms_of(kBeatSeconds);
        std::vector<int> dead;
        for (int r : watch.silent())
          if (std::find(missing.begin(), missing.end(), r) != missing.end()) dead.push_back(r);
        if (!dead.empty())
          throw DistError(fmt::format("rank {} of {}: rank{} {} stopped (no heartbeat for {:g} s) before '{}'",
                                      w.launch.rank, w.launch.world_size, dead.size() > 1 ? "s" : "",
                                      join_ranks(dead), w.silent_limit(), what));
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError(explain_failure(what, e.what()));
  }
}

std::string explain_failure(const std::string& what, const std::string& error) {
  if (!g_world) return error;
  World& w = *g_world;
  const std::string who = fmt::format("rank {} of {}", w.launch.rank, w.launch.world_size);
  std::string first_line = error.substr(0, error.find('\n'));
  try {
    BeatWatch watch(w);
    const auto until = Clock::now() + ms_of(w.silent_limit() + 2 * kBeatSeconds);
    while (Clock::now() < until) {
      auto silent = watch.silent();
      if (!silent.empty())
        return fmt::format("{}: rank{} {} stopped (no heartbeat for {:g} s) during {}: {}", who,
                           silent.size() > 1 ? "s" : "", join_ranks(silent), w.silent_limit(), what, first_line);
      std::this_thread::sleep_for(ms_of(kBeatSeconds / 2));
    }
    return fmt::format("{}: {} failed with every rank still alive: {}", who, what, first_line);
  } catch (const std::exception&) {
    return fmt::format("{}: rank 0, which holds the rendezvous at {}, is gone (during {}): {}", who, w.where(),
                       what, first_line);
  }
}

LocalScope::LocalScope() { ++g_local_depth; }
LocalScope::~LocalScope() { --g_local_depth; }

}  // namespace hiscmcl::dist
