// ticketctl: the admin CLI. The verbs are in the table below, one file each
// (verbs.h); every verb has --help. Exit codes: ops/app/exit_codes.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

constexpr AddVerb kVerbs[] = {AddCampaign, AddSimulate, AddReplay, AddInspect,   AddExport,
                              AddAudit,    AddRebuild,  AddToken,  AddKafkaMock, AddPass};

void AddGlobalOptions(CLI::App& app, Global& g) {
  app.set_version_flag("--version", "ticketctl " TL_VERSION);
  app.set_config("--config", "",
                 "TOML file with any of these options (a [verb] table for a verb's); an unknown "
                 "key is an error");
  // Options and config keys are checked: a misspelt one is an error, not
  // silently ignored. Subcommands inherit both settings, and the global
  // options may also follow the verb.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.fallthrough();
  g.data_dir_option =
      app.add_option("--data-dir", g.data_dir, "Data directory of a single-node ticketledger")
          ->capture_default_str();
  app.add_option("--partitions", g.partitions,
                 "Log partitions (fixed when the data dir is created)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seed-secret-file", g.seed_secret_file,
                 "File holding the engine's seed secret (else $TICKETLEDGER_SEED_SECRET)");
  app.add_flag("--dev", g.dev,
               "Use development secrets when none are given (never in production), as ticketd "
               "--dev does");
}

// CLI11's own exit codes (104..109) become the one usage code; --help and
// --version stay 0.
int ParseError(const CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    return app.exit(e);
  }
  if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr) {
    constexpr std::string_view kExtra = "INI was not able to parse ";
    std::string what = e.what();
    if (what.starts_with(kExtra)) what = "unknown key '" + what.substr(kExtra.size()) + "'";
    std::fprintf(stderr, "ticketctl: --config: %s\n", what.c_str());
    return app::kExitUsage;
  }
  app.exit(e);
  return app::kExitUsage;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "ticketctl: the ticketledger admin CLI (campaigns, simulate, replay, inspect, "
      "export, audit, rebuild, token, kafka-mock, pass)"};
  app.require_subcommand(1);
  Global g;
  AddGlobalOptions(app, g);
  std::vector<Verb> verbs;
  for (AddVerb add : kVerbs) verbs.push_back(add(app, g));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseError(app, e);
  }
  for (const Verb& v : verbs) {
    if (v.command->parsed()) return v.run();
  }
  return app::kExitUsage;  // unreachable: one subcommand is required
}

}  // namespace
}  // namespace tl::ctl

int main(int argc, char** argv) { return tl::ctl::Main(argc, argv); }
