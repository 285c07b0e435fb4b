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
#include <string>
#include <vector>

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

}  // namespace hiscmcl::cli
