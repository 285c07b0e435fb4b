// Helpers shared by the tests: where the real data lives, temporary folders, running the CLI.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace hiscmcl::test {

// ../shared/data (or $HISCMCL_SHARED_DATA); empty path when absent.
std::filesystem::path shared_data();
// Skip the current test with a clear message when ../shared/data/<sub> is absent.
#define HISCMCL_REQUIRE_DATA(sub)                                                             \
  do {                                                                                        \
    if (::hiscmcl::test::shared_data().empty() ||                                             \
        !std::filesystem::exists(::hiscmcl::test::shared_data() / (sub)))                     \
      GTEST_SKIP() << "real data ../shared/data/" << (sub)                                    \
                   << " is absent (a user's clone); CI has it";                               \
  } while (0)

// A fresh empty folder under the system temp dir, removed at destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
  std::filesystem::path operator/(const std::string& s) const { return path / s; }
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run_command(const std::string& cmdline);
// Runs the built hiscmcl binary with the given arguments (a shell-quoted string).
CommandResult run_hiscmcl(const std::string& args);
// A synthetic dataset made once per process by `hiscmcl synth <args>` (3 sections of an 8x8 grid,
// 30 genes by default); returns its folder (manifest.toml inside).
const std::filesystem::path& small_synthetic(const std::string& args = "--sections 3 --grid 8 --genes 30 --um-per-px 2 --seed 5");

// configs/default.toml with some settings replaced: `overrides` holds "key = value" lines, each
// replacing the first line that sets that key (every key is listed in default.toml).
std::string default_config_with(const std::string& overrides);
// The message of the InputError fn() throws, or "" and a test failure when it throws none.
std::string input_error_of(const std::function<void()>& fn);

// /usr/bin/python3 when it can import the named module, else empty.
std::string python_with(const std::string& module);

}  // namespace hiscmcl::test
