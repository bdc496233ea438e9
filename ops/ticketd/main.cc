// ticketd: the ticketledger daemon. Roles: `all` (the default: HTTP api +
// engine on the embedded log in one process), and for a split deployment over
// Kafka `api`, `engine` and `projector` (ops/app/roles.h).
//
// Settings come from flags, else TICKETD_* environment variables, else a
// TOML/INI file given with --config; `ticketd --help` lists them all
// (ops/app/settings.h). Secrets are read from files or the environment and
// never printed. Logs go to stderr (ops/app/log.h); the start line
// "ticketd listening on HOST:PORT (...)" goes to stdout. Exit codes:
// ops/app/exit_codes.h (0 stopped cleanly, 1 failed, 2 usage, 3 data).
#include <string.h>

#include <cstdio>

#include "engine/logger.h"
#include "ops/app/cli.h"
#include "ops/app/daemon.h"
#include "ops/app/exit_codes.h"
#include "ops/app/log.h"
#include "ops/app/settings.h"
#include "ops/app/signals.h"

namespace {

int Fail(const absl::Status& st) {
  tl::Logger("ticketd")->error("{}", std::string(st.message()));
  return tl::app::ExitCodeFor(st);
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread with sigwait; block them everywhere first.
  tl::app::BlockStopSignals();

  CLI::App cli{"ticketd: the ticketledger daemon (HTTP api + deterministic engine + embedded log)"};
  tl::app::SetUpCommandLine(&cli, "ticketd", /*config=*/true);
  tl::app::Settings settings;
  tl::app::AddSettings(&cli, &settings);
  if (std::optional<int> code = tl::app::ParseCommandLine(&cli, argc, argv)) return *code;
  if (absl::Status st = tl::app::SetUpLogging("ticketd", settings.log_level); !st.ok()) {
    std::fprintf(stderr, "ticketd: %s\n", std::string(st.message()).c_str());
    return tl::app::kExitUsage;
  }
  if (absl::Status st = tl::app::FinishSettings(&settings); !st.ok()) {
    Fail(st);
    return tl::app::kExitUsage;
  }
  tl::app::RaiseOpenFileLimit();

  tl::app::Daemon daemon(std::move(settings));
  absl::StatusOr<int> port = daemon.Start();
  if (!port.ok()) return Fail(port.status());
  std::printf("ticketd %s\n", daemon.StartLine(*port).c_str());
  std::fflush(stdout);

  const int sig = tl::app::WaitForStopSignal();
  tl::Logger("ticketd")->info("{}: no new connections; draining", strsignal(sig));
  absl::Status st = daemon.Stop();
  if (!st.ok()) {
    tl::Logger("ticketd")->error("stopped (the engine had failed: {})", std::string(st.message()));
    return tl::app::kExitFailure;
  }
  tl::Logger("ticketd")->info("stopped");
  return tl::app::kExitOk;
}
