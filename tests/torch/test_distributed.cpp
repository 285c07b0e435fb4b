// torch.distributed on this machine: the launch rules (pure), and two `hiscmcl` processes over
// loopback with Gloo against one process: train (same loss curve and retrieval keys, spatial and
// batch spot context), sharded embed (byte-identical caches), cv folds over ranks (same metrics),
// a rank that never joins and a rank killed mid-training (the other exits non-zero, naming it,
// within the timeout, and writes nothing).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "dist/launch.h"
#include "common/atomic_output.h"
#include "test_util.h"
#include "train/model_bundle.h"

using namespace hiscmcl;
using namespace hiscmcl::test;
namespace fs = std::filesystem;

namespace {

dist::Environment env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const dist::LaunchFlags& f, const dist::Environment& env) {
  return input_error_of([&] { dist::resolve_launch(f, env); });
}

}  // namespace

TEST(Launch, PlainRunWithoutEnvironment) {
  auto l = dist::resolve_launch({}, env_of({}));
  EXPECT_FALSE(l.distributed());
  EXPECT_EQ(l.world_size, 1);
  EXPECT_EQ(l.rank, 0);
}

TEST(Launch, TorchrunVariables) {
  auto l = dist::resolve_launch({}, env_of({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                            {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29511"}}));
  EXPECT_TRUE(l.distributed());
  EXPECT_EQ(l.rank, 3);
  EXPECT_EQ(l.world_size, 8);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.host, "node7");
  EXPECT_EQ(l.port, 29511);
  EXPECT_EQ(l.source, "torchrun");
}

TEST(Launch, SlurmVariables) {
  auto l = dist::resolve_launch({}, env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"},
                                            {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "12345"}}));
  EXPECT_EQ(l.rank, 5);
  EXPECT_EQ(l.world_size, 16);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.source, "slurm");
}

TEST(Launch, FlagsWinOverEnvironment) {
  dist::LaunchFlags f;
  f.url = "tcp://[::1]:4000";
  f.rank = 1;
  f.world_size = 2;
  f.backend = "gloo";
  auto l = dist::resolve_launch(f, env_of({{"RANK", "0"}, {"WORLD_SIZE", "4"}}));
  EXPECT_EQ(l.rank, 1);
  EXPECT_EQ(l.world_size, 2);
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 4000);
  EXPECT_EQ(l.backend, dist::Backend::gloo);
}

TEST(Launch, WorldOfOneJoinsNothing) {
  auto l = dist::resolve_launch({}, env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}}));
  EXPECT_FALSE(l.distributed());
}

TEST(Launch, BadValuesAreNamed) {
  EXPECT_NE(error_of({}, env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}))
                .find("RANK: 2 is outside 0..1"),
            std::string::npos);
  EXPECT_NE(error_of({}, env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}})).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(error_of({}, env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})).find("RANK: 'x' is not a whole number"),
            std::string::npos);
  EXPECT_NE(error_of({}, env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}))
                .find("outside 1..65535"),
            std::string::npos);
  dist::LaunchFlags f;
  f.url = "http://h:1";
  f.rank = 0;
  f.world_size = 2;
  EXPECT_NE(error_of(f, env_of({})).find("is not tcp://host:port"), std::string::npos);
  f.url = "tcp://h:1";
  f.rank = dist::LaunchFlags::kUnset;
  EXPECT_NE(error_of(f, env_of({})).find("--rank and --world-size together"), std::string::npos);
  // A rank or world size given but out of range says so, not that a flag is missing.
  f.rank = -1;
  EXPECT_NE(error_of(f, env_of({})).find("--rank: -1 must be between 0 and --world-size - 1 (1)"), std::string::npos)
      << error_of(f, env_of({}));
  f.rank = 2;
  EXPECT_NE(error_of(f, env_of({})).find("--rank: 2 must be between 0 and --world-size - 1 (1)"), std::string::npos);
  f.rank = 0;
  f.world_size = 0;
  EXPECT_NE(error_of(f, env_of({})).find("--world-size: 0 must be at least 1"), std::string::npos);
  f.world_size = 2;
  f.backend = "mpi";
  EXPECT_NE(error_of(f, env_of({})).find("not one of auto, gloo, nccl"), std::string::npos);
}

TEST(Launch, SlicesCoverTheBatchOnce) {
  for (int world : {1, 2, 3, 8})
    for (int64_t n : {0, 1, 7, 128, 129}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        auto [b, e] = dist::slice_of(n, r, world);
        EXPECT_EQ(b, next);
        EXPECT_LE(e - b, dist::slice_of(n, 0, world).second);  // slice 0 is the largest
        EXPECT_GE(e - b, n / world);
        next = e;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Launch, BalancedOwnersSpreadTheLoad) {
  // Largest first to the least loaded rank: 10, 9, 8 open the three ranks; 7 joins 8 (the
  // lightest then), 2 joins 9, 1 joins 10: loads 11, 11, 15.
  EXPECT_EQ(dist::balanced_owners({10, 1, 9, 2, 8, 7}, 3), (std::vector<int>{0, 0, 1, 1, 2, 2}));
  // Equal weights: dealt in turn, ties to the lower rank.
  EXPECT_EQ(dist::balanced_owners({5, 5, 5, 5, 5}, 2), (std::vector<int>{0, 1, 0, 1, 0}));
  EXPECT_EQ(dist::balanced_owners({5, 5}, 1), (std::vector<int>{0, 0}));
}

// ---- two processes over loopback ----

namespace {

// A TCP port free at the moment of asking (the kernel's choice for port 0).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string bin() { return std::string("'") + HISCMCL_BIN + "'"; }

// `hiscmcl <args>` as two ranks side by side (one thread each); their outputs, and exit codes.
struct TwoRanks {
  int code[2] = {-1, -1};
  std::string log[2];
  double seconds = 0;
};
TwoRanks run_two(const std::string& args, const TempDir& tmp, const std::string& extra = "",
                 const std::string& kill_rank1_after = "") {
  const int port = free_port();
  std::ostringstream sh;
  for (int r = 0; r < 2; ++r)
    sh << bin() << " " << args << " --threads 1 --dist-url tcp://127.0.0.1:" << port << " --rank " << r
       << " --world-size 2 " << extra << " > '" << (tmp / ("rank" + std::to_string(r) + ".log")).string()
       << "' 2>&1 & p" << r << "=$!\n";
  if (!kill_rank1_after.empty()) sh << "sleep " << kill_rank1_after << "; kill -9 $p1\n";
  sh << "wait $p0; echo $? > '" << (tmp / "rc0").string() << "'\n";
  sh << "wait $p1; echo $? > '" << (tmp / "rc1").string() << "'\n";
  const fs::path script = tmp / "two_ranks.sh";
  std::ofstream(script) << sh.str();
  const auto t0 = std::chrono::steady_clock::now();
  run_command("bash '" + script.string() + "'");
  TwoRanks out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int r = 0; r < 2; ++r) {
    out.code[r] = std::stoi(read_text_file(tmp / ("rc" + std::to_string(r))));
    out.log[r] = read_text_file(tmp / ("rank" + std::to_string(r) + ".log"));
  }
  return out;
}

// `hiscmcl <args>` once in one process (`threads` threads, out: tmp/one) and once as two ranks
// (out: tmp/two); each must succeed.
void run_one_and_two(const std::string& args, const TempDir& tmp, int threads, TwoRanks* two) {
  auto one = run_command(bin() + " " + args + " --quiet --threads " + std::to_string(threads) + " --out '" +
                         (tmp / "one").string() + "'");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  *two = run_two(args + " --out '" + (tmp / "two").string() + "'", tmp);
  ASSERT_EQ(two->code[0], 0) << two->log[0] << two->log[1];
  ASSERT_EQ(two->code[1], 0) << two->log[1];
}

// A prepared synthetic store (4 sections of 10x10 spots) with its features, made once.
const fs::path& dist_store() {
  static TempDir dir;
  static fs::path store = [] {
    const fs::path syn = small_synthetic("--sections 4 --grid 10 --genes 30 --um-per-px 2 --seed 11");
    auto r = run_hiscmcl("prepare --quiet --manifest '" + (syn / "manifest.toml").string() + "' --out '" +
                         (dir / "store").string() + "'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run_hiscmcl("embed --quiet --data '" + (dir / "store").string() + "'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir / "store";
  }();
  return store;
}

std::string write_config(const TempDir& tmp, const std::string& overrides) {
  fs::path p = tmp / "run.toml";
  std::ofstream(p) << default_config_with(overrides);
  return p.string();
}

std::vector<double> losses(const fs::path& log_csv) {
  std::vector<double> v;
  std::istringstream in(read_text_file(log_csv));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) v.push_back(std::stod(line.substr(line.find(',') + 1)));
  return v;
}

void expect_same_training(const std::string& overrides) {
  TempDir tmp;
  const std::string cfg = write_config(tmp, overrides);
  const std::string args = "train --data '" + dist_store().string() + "' --config '" + cfg + "'";
  TwoRanks two;
  ASSERT_NO_FATAL_FAILURE(run_one_and_two(args, tmp, 1, &two));
  EXPECT_NE(two.log[0].find("rank 0 of 2 joined (gloo"), std::string::npos) << two.log[0];
  EXPECT_NE(two.log[1].find("rank 1 of 2 joined (gloo"), std::string::npos) << two.log[1];

  auto l1 = losses(tmp / "one" / "train_log.csv"), l2 = losses(tmp / "two" / "train_log.csv");
  ASSERT_EQ(l1.size(), l2.size());
  ASSERT_GE(l1.size(), 3u);
  EXPECT_GT(l1.front() - l1.back(), 0.05) << "the loss should fall, or the comparison says little";
  for (size_t e = 0; e < l1.size(); ++e) EXPECT_NEAR(l1[e], l2[e], 1e-4) << "epoch " << e + 1;

  ModelBundle a = load_model_bundle(tmp / "one"), b = load_model_bundle(tmp / "two");
  ASSERT_EQ(a.key_embeddings.sizes(), b.key_embeddings.sizes());
  const double diff = (a.key_embeddings - b.key_embeddings).abs().max().item<double>();
  EXPECT_LE(diff, 1e-4) << "max |delta| of the retrieval keys";
  const double scale = a.key_embeddings.abs().max().item<double>();
  EXPECT_GT(scale, 1e-2);  // not a degenerate all-zero embedding
  std::cout << "[distributed] " << overrides.substr(0, overrides.find('\n')) << ": max |dkeys| " << diff
            << ", loss " << l1.front() << " -> " << l1.back() << "\n";
}

const char* kTrainBase =
    "train.epochs = 4\ntrain.batch_size = 64\ntrain.accumulation = 2\ntrain.ensemble = 1\n";

}  // namespace

TEST(Distributed, TrainSpatialContextMatchesOneProcess) {
  expect_same_training(std::string("model.spot_context = \"spatial\"\n") + kTrainBase);
}

TEST(Distributed, TrainBatchContextMatchesOneProcess) {
  // The default context: each rank runs the spot branch on the whole global batch.
  expect_same_training(std::string("model.spot_context = \"batch\"\n") + kTrainBase +
                       "model.regression_head = true\n");
}

// Largest |a - b| over two tensors, relative to the largest |a|.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined() || !a.sizes().equals(b.sizes())) return INFINITY;
  const double scale = std::max(a.abs().max().item<double>(), 1e-12);
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

TEST(Distributed, EnsembleMembersSpreadOverRanksGiveTheSameModels) {
  // Two members on two ranks: each rank trains one alone and they swap weights; one process
  // trains both side by side, one thread each. The same arithmetic in the same order, but the
  // BLAS kernels OpenBLAS picks for this CPU and thread count may round differently (the last bits
  // of the weights differed on an AMD EPYC): equal to float rounding is what is promised
  // (METHOD.md, "Distributed training").
  TempDir tmp;
  const std::string cfg = write_config(tmp, "train.epochs = 3\ntrain.batch_size = 64\ntrain.ensemble = 2\n");
  const std::string args = "train --data '" + dist_store().string() + "' --config '" + cfg + "'";
  TwoRanks two;
  ASSERT_NO_FATAL_FAILURE(run_one_and_two(args, tmp, 2, &two));
  ModelBundle one = load_model_bundle(tmp / "one"), other = load_model_bundle(tmp / "two");
  ASSERT_EQ(one.members.size(), 1u);
  ASSERT_EQ(other.members.size(), 1u);
  for (int m = 0; m < 2; ++m) {
    const ModelBundle& a = m == 0 ? one : one.members[0];
    const ModelBundle& b = m == 0 ? other : other.members[0];
    SCOPED_TRACE("member " + std::to_string(m));
    auto pa = a.model->named_parameters(true), pb = b.model->named_parameters(true);
    ASSERT_EQ(pa.size(), pb.size());
    for (const auto& p : pa) EXPECT_LT(relative_difference(p.value(), pb[p.key()]), 1e-4) << p.key();
    EXPECT_LT(relative_difference(a.key_embeddings, b.key_embeddings), 1e-4);
    EXPECT_TRUE(torch::equal(a.key_expression, b.key_expression));  // measured values, copied
  }
  EXPECT_GT(relative_difference(one.key_embeddings, one.members[0].key_embeddings), 1e-2)
      << "the two members should differ (other seeds), or the comparison says little";
  auto l1 = losses(tmp / "one" / "train_log.csv"), l2 = losses(tmp / "two" / "train_log.csv");
  ASSERT_EQ(l1.size(), l2.size());
  for (size_t e = 0; e < l1.size(); ++e) EXPECT_NEAR(l1[e], l2[e], 1e-5 * std::abs(l1[e])) << "epoch " << e + 1;
}

TEST(Distributed, ShardedEmbedWritesTheSameCache) {
  TempDir tmp;
  fs::copy(dist_store(), tmp / "a", fs::copy_options::recursive);
  fs::remove_all(tmp / "a" / "features");
  fs::copy(tmp / "a", tmp / "b", fs::copy_options::recursive);
  auto one = run_command(bin() + " embed --quiet --threads 1 --data '" + (tmp / "a").string() + "'");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_two("embed --data '" + (tmp / "b").string() + "'", tmp);
  ASSERT_EQ(two.code[0], 0) << two.log[0];
  ASSERT_EQ(two.code[1], 0) << two.log[1];
  EXPECT_NE(two.log[0].find("rank 0 of 2 embeds 2 of 4 sections"), std::string::npos) << two.log[0];
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(tmp / "a" / "features")) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), tmp / "a");
    ASSERT_TRUE(fs::exists(tmp / "b" / rel)) << rel;
    EXPECT_EQ(read_text_file(e.path()), read_text_file(tmp / "b" / rel)) << rel << " differs";
    ++files;
  }
  EXPECT_GE(files, 4 * 2 * 2);  // 4 sections x 2 levels x (npy + key)
}

TEST(Distributed, CvFoldsOverRanksGiveTheSameMetrics) {
  TempDir tmp;
  const fs::path syn = small_synthetic("--sections 4 --grid 10 --genes 30 --um-per-px 2 --seed 11");
  const std::string cfg = write_config(tmp, "train.epochs = 2\ntrain.ensemble = 1\n");
  const std::string args = "cv --manifest '" + (syn / "manifest.toml").string() + "' --config '" + cfg +
                           "' --heatmap-genes 1";
  TwoRanks two;
  ASSERT_NO_FATAL_FAILURE(run_one_and_two(args, tmp, 1, &two));
  EXPECT_NE(two.log[0].find("cv: rank 0 of 2 runs 2 of 4 folds"), std::string::npos) << two.log[0];
  for (const char* fold : {"S1", "S2", "S3", "S4"}) {
    const fs::path f = fs::path("folds") / fold / "result.json";
    ASSERT_TRUE(fs::exists(tmp / "two" / f)) << f;
    auto a = nlohmann::json::parse(read_text_file(tmp / "one" / f));
    auto b = nlohmann::json::parse(read_text_file(tmp / "two" / f));
    ASSERT_TRUE(a.contains("extra")) << a.dump().substr(0, 300);
    EXPECT_EQ(a["extra"]["sections"], b["extra"]["sections"]) << f << ": the held-out metrics differ";
  }
  EXPECT_TRUE(fs::exists(tmp / "two" / "report.html"));
}

TEST(Distributed, RankThatNeverJoinsIsNamed) {
  TempDir tmp;
  auto r = run_command(bin() + " embed --data '" + dist_store().string() +
                       "' --threads 1 --dist-url tcp://127.0.0.1:" + std::to_string(free_port()) +
                       " --rank 0 --world-size 2 --dist-timeout 3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("rank 1 of 2 never joined within 3 s"), std::string::npos) << r.output;
}

TEST(Distributed, KilledRankStopsTheOtherWithinTheTimeout) {
  TempDir tmp;
  const std::string cfg = write_config(tmp, "train.epochs = 2000\ntrain.batch_size = 64\ntrain.ensemble = 1\n");
  auto two = run_two("train --data '" + dist_store().string() + "' --config '" + cfg + "' --out '" +
                         (tmp / "model").string() + "'",
                     tmp, "--dist-timeout 8", "4");
  EXPECT_NE(two.code[0], 0) << two.log[0];
  EXPECT_NE(two.code[1], 0);  // killed
  EXPECT_NE(two.log[0].find("rank 1 stopped"), std::string::npos) << two.log[0];
  EXPECT_LT(two.seconds, 4 + 8 + 20) << "rank 0 should give up within the timeout";
  EXPECT_FALSE(fs::exists(tmp / "model")) << "no partial output";
}
