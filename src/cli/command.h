// Subcommands register themselves (one file per subcommand, no central list to edit):
//
//   static CommandRegistrar reg("prepare", "Read sections, pick the gene panel, normalise",
//       [](CLI::App& cmd) -> std::function<int()> { ...add options...; return [&]{ ...; return 0; }; });
//
// main() adds --threads/--verbose/--quiet and the --dist-* launch flags to every subcommand,
// applies them (joining the process group for a distributed command), runs the chosen one, and
// turns InputError into a message naming the file plus exit code 2.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"

namespace hiscmcl::cli {

// Returns the function to run once options are parsed; that function returns the exit code.
using CommandSetup = std::function<std::function<int()>(CLI::App&)>;

struct CommandInfo {
  std::string name, description;
  CommandSetup setup;
  bool distributed = false;  // joins the process group of a torchrun / Slurm / --dist-url launch
};

std::vector<CommandInfo>& command_registry();

struct CommandRegistrar {
  // distributed = false: in a launch of several processes rank 0 alone runs the command.
  CommandRegistrar(std::string name, std::string description, CommandSetup setup, bool distributed = false) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup), distributed});
  }
};

// The config a subcommand runs under: its --config file (or the built-in configs/default.toml),
// then every command-line override as `--set table.key=value` through with_overrides, the one
// place overrides go. Shortcuts such as --epochs N add the matching --set.
struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets, shortcut_sets;  // apart: CLI11 assigns `sets` whole when parsing ends

  void add_set_option(CLI::App& cmd) {
    cmd.add_option("--set", sets, "Override a config setting, table.key=value (repeatable), e.g. --set predict.k=50")
        ->type_name("KEY=VALUE");
  }
  // --NAME VALUE as --set KEY=VALUE (strings quoted for TOML).
  template <typename T>
  void add_shortcut(CLI::App& cmd, const std::string& name, const std::string& key, const std::string& help) {
    cmd.add_option_function<T>(name, [this, key](const T& v) { shortcut_sets.push_back(key + "=" + toml_value(v)); },
                               help + " (same as --set " + key + "=...)");
  }
  std::vector<std::string> all_sets() const {
    std::vector<std::string> all = sets;
    all.insert(all.end(), shortcut_sets.begin(), shortcut_sets.end());
    return all;
  }
  RunConfig load() const {
    return with_overrides(file.empty() ? default_run_config() : load_run_config(file), all_sets());
  }

 private:
  static std::string toml_value(const std::string& v) {
    std::string q = "\"";
    for (char c : v) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  }
  template <typename T>
  static std::string toml_value(const T& v) { return std::to_string(v); }
};

}  // namespace hiscmcl::cli
