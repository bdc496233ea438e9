// ticketctl's verbs. main.cc holds the table; each verb's file adds its
// subcommand (with the options it owns) and returns what runs it. What the
// verbs share — the global options, the secrets, opening a data dir, the
// exit code of a Status — is declared here and defined in common.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/node.h"
#include "ops/app/exit_codes.h"

namespace tl::ctl {

// The options before (or, with fallthrough, after) the verb.
struct Global {
  std::string data_dir = "./ticketledger-data";
  CLI::Option* data_dir_option = nullptr;  // to tell "given" from the default
  int partitions = 1;
  std::string seed_secret_file;
  bool dev = false;
};

// A verb: its subcommand and what runs it once the command line is parsed.
// `run` returns the exit code (ops/app/exit_codes.h).
struct Verb {
  CLI::App* command = nullptr;
  std::function<int()> run;
};
using AddVerb = Verb (*)(CLI::App& app, const Global& g);

Verb AddCampaign(CLI::App& app, const Global& g);
Verb AddSimulate(CLI::App& app, const Global& g);
Verb AddReplay(CLI::App& app, const Global& g);
Verb AddInspect(CLI::App& app, const Global& g);
Verb AddExport(CLI::App& app, const Global& g);
Verb AddAudit(CLI::App& app, const Global& g);
Verb AddRebuild(CLI::App& app, const Global& g);
Verb AddToken(CLI::App& app, const Global& g);
Verb AddKafkaMock(CLI::App& app, const Global& g);
Verb AddPass(CLI::App& app, const Global& g);

// The seed secret exactly as ticketd loads it: --seed-secret-file, else
// $TICKETLEDGER_SEED_SECRET, else the development secret only with --dev.
// INVALID_ARGUMENT when there is none or it is shorter than 16 bytes.
absl::StatusOr<std::string> SeedSecret(const Global& g);
// The JWT secret the same way: `file`, else $TICKETD_JWT_SECRET, else --dev.
absl::StatusOr<std::string> JwtSecret(const Global& g, const std::string& file);

// OK when g.data_dir holds a ticketledger log; NOT_FOUND (a usage error:
// the user named a wrong place) otherwise, so nothing is created there.
absl::Status RequireDataDir(const Global& g);

// The single-node engine over `dir` (created when missing), recovered.
absl::StatusOr<std::unique_ptr<Node>> OpenNode(const Global& g, const std::string& dir);

// Prints "ticketctl: <message>" and returns the exit code for `st`.
int Fail(const absl::Status& st);

}  // namespace tl::ctl
