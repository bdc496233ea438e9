// The command-line conventions of both binaries: `--version`, a `--config`
// file (TOML/INI) whose unknown keys are errors naming the key, and usage
// errors that exit kExitUsage (exit_codes.h) instead of CLI11's own codes.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tl::app {

// The version both binaries report (the CMake project's).
const char* Version();

// Adds `--version` ("<name> <version>") and, with `config`, the `--config`
// option whose unknown keys are errors.
void SetUpCommandLine(CLI::App* app, const std::string& name, bool config);

// Parses the command line. nullopt: go on. Else the code to exit with, the
// reason already printed: kExitOk after --help or --version, kExitUsage for a
// usage error.
std::optional<int> ParseCommandLine(CLI::App* app, int argc, char** argv);

}  // namespace tl::app
