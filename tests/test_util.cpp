#include "test_util.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl::test {

std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return {};
}

const fs::path& small_synthetic(const std::string& args) {
  static std::map<std::string, fs::path> made;
  static TempDir dir;
  auto it = made.find(args);
  if (it != made.end()) return it->second;
  fs::path out = dir / ("syn" + std::to_string(made.size()));
  auto r = run_hiscmcl("synth --quiet --out '" + out.string() + "' " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return made.emplace(args, out).first->second;
}

std::string default_config_with(const std::string& overrides) {
  std::string cfg = read_text_file(fs::path(HISCMCL_SOURCE_DIR) / "configs" / "default.toml");
  std::istringstream lines(overrides);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::string key = line.substr(0, line.find(' '));
    size_t from = 0;
    if (auto dot = key.find('.'); dot != std::string::npos) {  // "train.batch_size = 16"
      from = cfg.find("\n[" + key.substr(0, dot) + "]\n");
      key = key.substr(dot + 1);
      line = line.substr(dot + 1);
    }
    const size_t at = from == std::string::npos ? from : cfg.find("\n" + key + " ", from);
    if (at == std::string::npos) {
      ADD_FAILURE() << "default.toml sets no key " << key;
      continue;
    }
    const size_t end = cfg.find('\n', at + 1);
    cfg.replace(at + 1, end - at - 1, line);
  }
  return cfg;
}

fs::path shared_data() {
  if (const char* env = std::getenv("HISCMCL_SHARED_DATA"); env && *env) return fs::path(env);
  fs::path p = HISCMCL_SHARED_DATA;
  return fs::exists(p) ? fs::canonical(p) : fs::path();
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path = fs::temp_directory_path() /
         ("hiscmcl_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(rd() % 100000));
  fs::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("HISCMCL_KEEP_TMP")) fs::remove_all(path, ec);
}

CommandResult run_command(const std::string& cmdline) {
  CommandResult r;
  std::string full = cmdline + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CommandResult run_hiscmcl(const std::string& args) {
  return run_command(std::string("'") + HISCMCL_BIN + "' " + args);
}

std::string python_with(const std::string& module) {
  const std::string py = "/usr/bin/python3";
  if (!fs::exists(py)) return {};
  auto r = run_command(py + " -c 'import " + module + "'");
  return r.exit_code == 0 ? py : std::string();
}

}  // namespace hiscmcl::test
