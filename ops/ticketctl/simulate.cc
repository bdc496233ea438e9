// `ticketctl simulate`: a whole drop on a virtual clock (simulation.h), in
// the global --data-dir when one is given (kept, so `audit`, `replay` and
// `inspect` read it afterwards), else in a temporary dir removed at the end
// unless --keep.
//
// With --seed or --faults: the deterministic simulation of the whole node
// (ops/sim/simulator.h) for one seed or a range of seeds, in memory.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/str_format.h"
#include "engine/core/names.h"
#include "ops/sim/simulator.h"
#include "ops/ticketctl/progress.h"
#include "ops/ticketctl/simulation.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct SimulateArgs {
  SimulateOptions options;
  std::string sim_dir;  // the old spelling of --data-dir, still accepted
  CLI::Option* sim_dir_option = nullptr;
  bool keep = false;
  // The deterministic simulation.
  bool faults = false;
  uint64_t seed = 1;
  CLI::Option* seed_option = nullptr;
  uint64_t seeds = 1;
  int steps = 0;
  int partitions = 0;
  std::string plant = "none";
};

void AddSeedOptions(CLI::App& sim, SimulateArgs& a) {
  a.seed_option = sim.add_option("--seed", a.seed,
                                 "Deterministic simulation of the whole node (engines, ticker, "
                                 "projector, audit) under this seed, in memory")
                      ->capture_default_str();
  sim.add_flag("--faults", a.faults,
               "Inject faults drawn from the seed: crashes, torn appends, failed and timed-out "
               "appends, doubled and late records, stores away, takeovers");
  sim.add_option("--seeds", a.seeds, "Run this many seeds from --seed on")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  sim.add_option("--steps", a.steps, "Scheduler steps per seed (0: drawn from the seed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1'000'000));
  sim.add_option("--sim-partitions", a.partitions, "Partitions (0: drawn from the seed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  sim.add_option("--plant", a.plant,
                 "Plant a known bug to show the simulator finds it: none, "
                 "fold-forgets-stock-change, recovery-resumes-late, checkpoint-before-data")
      ->capture_default_str();
}

// Runs seeds [seed, seed + seeds); stops at the first failure, printing it
// and the command that replays it. Exit 0 when every seed passed, 1 when
// one failed.
int RunSeeds(const SimulateArgs& a) {
  PlantedBug bug;
  if (!sim::ParsePlantedBug(a.plant, &bug))
    return Fail(absl::InvalidArgumentError(absl::StrCat("--plant: unknown bug '", a.plant, "'")));
  planted_bug = bug;
  sim::SimStats total;
  Progress progress("seeds", a.seeds);
  const auto began = std::chrono::steady_clock::now();
  uint64_t done = 0;
  for (; done < a.seeds; ++done) {
    sim::SimOptions o{
        .seed = a.seed + done, .faults = a.faults, .steps = a.steps, .partitions = a.partitions};
    sim::SimResult r = sim::Simulate(o);
    total.Add(r.stats);
    if (!r.ok) {
      progress.Finish();
      std::printf("seed %llu FAILED after %llu passing: %s\n  replay: %s\n",
                  static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(done),
                  r.failure.c_str(), sim::ReplayCommand(o).c_str());
      planted_bug = PlantedBug::kNone;
      return 1;
    }
    progress.Update(done + 1);
  }
  progress.Finish();
  planted_bug = PlantedBug::kNone;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("%llu seeds passed (%s) in %.1f s: %.0f seeds/s\n",
              static_cast<unsigned long long>(done), a.faults ? "with faults" : "no faults", s,
              done / std::max(s, 1e-9));
  std::printf(
      "  per run: %.0f steps, %.1f commands (%.1f acknowledged, %.1f retries, %.1f keyed), "
      "%.1f ledger events\n",
      1.0 * total.steps / done, 1.0 * total.commands / done, 1.0 * total.acknowledged / done,
      1.0 * total.retries / done, 1.0 * total.keyed / done, 1.0 * total.ledger_events / done);
  std::printf(
      "  faults: %llu engine crashes (%llu torn appends, %llu state writes lost), %llu takeovers "
      "(%llu fenced appends, %llu zombie appends), %llu appends refused, %llu timed out after "
      "writing, %llu doubled, %llu reads failed, %llu state store outages, %llu projector "
      "restarts (%llu with the store emptied), %llu read-model outages, %llu replies lost, %llu "
      "api replica restarts, %llu requests never retried\n",
      static_cast<unsigned long long>(total.engine_crashes),
      static_cast<unsigned long long>(total.torn_appends),
      static_cast<unsigned long long>(total.state_writes_lost),
      static_cast<unsigned long long>(total.takeovers),
      static_cast<unsigned long long>(total.fenced),
      static_cast<unsigned long long>(total.zombie_appends),
      static_cast<unsigned long long>(total.appends_refused),
      static_cast<unsigned long long>(total.appends_timed_out),
      static_cast<unsigned long long>(total.appends_doubled),
      static_cast<unsigned long long>(total.reads_failed),
      static_cast<unsigned long long>(total.store_outages),
      static_cast<unsigned long long>(total.projector_crashes),
      static_cast<unsigned long long>(total.sink_emptied),
      static_cast<unsigned long long>(total.sink_outages),
      static_cast<unsigned long long>(total.sink_replies_lost),
      static_cast<unsigned long long>(total.follower_restarts),
      static_cast<unsigned long long>(total.requests_dropped));
  return 0;
}

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
  if (a.faults || a.seed_option->count() > 0) return RunSeeds(a);
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
      "rate, the digest and entries/s. Writes to --data-dir when given, else to a temporary dir. "
      "With --seed/--faults: the deterministic simulation of the whole node under seeded faults");
  AddOptions(*sim, *a);
  AddSeedOptions(*sim, *a);
  return {sim, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
