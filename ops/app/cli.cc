#include "ops/app/cli.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ops/app/exit_codes.h"

#ifndef TL_VERSION
#error "TL_VERSION must be defined by the build (the CMake project version)"
#endif

namespace tl::app {

const char* Version() { return TL_VERSION; }

void SetUpCommandLine(CLI::App* app, const std::string& name, bool config) {
  app->name(name);  // usage and errors say "ticketd", not the path it was started by
  app->set_version_flag("--version", absl::StrCat(name, " ", Version()),
                        "Print the version and exit");
  if (config) {
    app->set_config("--config", "", "TOML/INI file with any of the settings below");
    app->allow_config_extras(CLI::config_extras_mode::error);
  }
}

std::optional<int> ParseCommandLine(CLI::App* app, int argc, char** argv) {
  try {
    app->parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse <key>" for a key it does not know.
    std::string what = e.what();
    constexpr absl::string_view kUnknown = "INI was not able to parse ";
    if (absl::StartsWith(what, kUnknown))
      what = absl::StrCat("unknown key '", what.substr(kUnknown.size()), "' in the --config file");
    std::fprintf(stderr, "%s: %s\n", app->get_name().c_str(), what.c_str());
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0 after printing.
    if (app->exit(e) == 0) return kExitOk;
    return kExitUsage;
  }
}

}  // namespace tl::app
