// Subcommands register themselves (one file per subcommand, no central list to edit):
//
//   static CommandRegistrar reg("prepare", "Read sections, pick the gene panel, normalise",
//       [](CLI::App& cmd) -> std::function<int()> { ...add options...; return [&]{ ...; return 0; }; });
//
// main() adds --threads/--verbose/--quiet to every subcommand, applies them, runs the chosen one,
// and turns InputError into a message naming the file plus exit code 2.
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
};

std::vector<CommandInfo>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string description, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

}  // namespace hiscmcl::cli
