// `ticketctl simulate`: a whole drop on a virtual clock (simulation.h), in
// the global --data-dir when one is given (kept, so `audit`, `replay` and
// `inspect` read it afterwards), else in a temporary dir removed at the end
// unless --keep.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/core/names.h"
#include "ops/ticketctl/simulation.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct SimulateArgs {
  SimulateOptions options;
  std::string sim_dir;  // the old spelling of --data-dir, still accepted
  CLI::Option* sim_dir_option = nullptr;
  bool keep = false;
};

void AddOptions(CLI::App& sim, SimulateArgs& a) {
  SimulateOptions& so = a.options;
  a.sim_dir_option =
      sim.add_option("--sim-dir", a.sim_dir, "Same as the global --data-dir (an older spelling)");
  sim.add_option("--campaign", so.campaign, "Campaign id")->capture_default_str();
  sim.add_option("--users", so.users, "Users who enter")->capture_default_str();
  sim.add_option("--stock", so.stock, "Stock")->capture_default_str();
  sim.add_option("--win-bps", so.win_bps, "Win probability in basis points")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  sim.add_option("--rate", so.rate, "Admission rate per second (0 = at once)")
      ->capture_default_str();
  sim.add_option("--queueing", so.queueing, "fifo or random")
      ->capture_default_str()
      ->check(CLI::IsMember({kFifo, kRandom}));
  sim.add_option("--arrival-ms", so.arrival_ms, "Users arrive evenly over this many virtual ms")
      ->capture_default_str();
  sim.add_option("--tick-ms", so.tick_ms, "Waiting-room tick interval (virtual ms)")
      ->capture_default_str();
  sim.add_option("--start-ms", so.start_ms, "Virtual clock start, unix ms")->capture_default_str();
  sim.add_option("--batch", so.batch, "Commands per durable append")->capture_default_str();
  sim.add_option("--hold-s", so.hold_s, "Seconds a win holds its unit for payment (0: final)")
      ->capture_default_str()
      ->check(CLI::Range(0, 604800));
  sim.add_option("--confirm-every", so.confirm_every,
                 "Every Nth user's shop confirms at hold/2 (0: nobody); the others' holds expire")
      ->capture_default_str();
  sim.add_option("--draw", so.draw, "instant or at_close")
      ->capture_default_str()
      ->check(CLI::IsMember({kInstant, kAtClose}));
  sim.add_option("--entropy", so.entropy,
                 "at_close: commit to an entropy source and close with this value");
  sim.add_flag("--resume", so.resume, "Continue a run whose data dir already holds commands");
  sim.add_flag("--print-acks", so.print_acks, "Print 'acked N' after each durable append");
  sim.add_flag("--keep", a.keep, "Keep the temporary data dir (without --data-dir)");
}

int Run(const Global& g, const SimulateArgs& a) {
  std::string dir;
  const bool given = g.data_dir_option->count() > 0;
  if (a.sim_dir_option->count() > 0) {
    if (given && a.sim_dir != g.data_dir)
      return Fail(absl::InvalidArgumentError("--sim-dir and --data-dir name different dirs"));
    dir = a.sim_dir;
  } else if (given) {
    dir = g.data_dir;
  }
  const bool temp = dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/ticketledger-sim-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail(absl::UnavailableError("mkdtemp failed"));
    dir = tmpl;
  }
  int rc;
  {
    auto node = OpenNode(g, dir);
    if (!node.ok()) {
      rc = Fail(node.status());
    } else {
      rc = RunSimulate(**node, a.options);
    }
  }
  if (temp && !a.keep) {
    std::filesystem::remove_all(dir);
  } else if (rc == 0) {
    std::printf("  data dir   %s\n", dir.c_str());
  }
  return rc;
}

}  // namespace

Verb AddSimulate(CLI::App& app, const Global& g) {
  auto a = std::make_shared<SimulateArgs>();
  CLI::App* sim = app.add_subcommand(
      "simulate",
      "Run a whole drop on the embedded log from a virtual clock; print outcomes, the observed "
      "rate, the digest and entries/s. Writes to --data-dir when given, else to a temporary dir");
  AddOptions(*sim, *a);
  return {sim, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
