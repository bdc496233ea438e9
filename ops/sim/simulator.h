// The deterministic simulator: the real engine code -- decide, fold, the
// partition engine with its recovery, the ticker, the projector runtime,
// the ledger reader, the audit -- run on one thread under a seed, over
// simulated implementations of the project's own ports: the EventLog
// (ops/sim/sim_log.h), the state store's KvStore (sim_kv.h), the
// projector's Sink (sim_sink.h) and the clock (world.h). No real time, no
// real threads; every choice -- the workload, the schedule, every fault --
// is drawn from the seed, so a seed replays exactly.
//
// One run: clients send commands of every kind to campaigns of every mode
// (retrying with the same Idempotency-Key), engines decide them, tickers
// tick, a projector and an api replica's ledger follower follow the ledger,
// and faults strike at any step:
// engine processes crash (unsynced state lost, a torn ledger tail), appends
// fail or time out after being written, records are doubled or delivered
// late, the state store and the read-model store go away, a projector
// restarts with its store emptied, another engine takes a partition over
// (with or without fencing), an api replica restarts or dies with requests
// unanswered. Then everything heals and the run is checked:
//   - every engine caught up, every invariant of every campaign;
//   - the ledger (duplicates dropped) equal to a clean run's over the same
//     commands log, and the state digest equal to that run's;
//   - every acknowledged command answered exactly once, every keyed one by
//     exactly one answer carrying its key;
//   - the projection equal to the ledger (each event applied once, in order);
//   - the follower's state equal to the engine's, and no read of it ever
//     showing a state that later disappeared (a position's user changing, a
//     status going back);
//   - the audit clean.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/planted.h"

namespace tl::sim {

struct SimOptions {
  uint64_t seed = 1;
  bool faults = true;
  int steps = 0;       // 0: drawn from the seed (200..799)
  int partitions = 0;  // 0: drawn from the seed (1..3)
};

struct SimStats {
  uint64_t steps = 0, commands = 0, acknowledged = 0, retries = 0, keyed = 0, campaigns = 0,
           ledger_events = 0;
  uint64_t engine_crashes = 0, torn_appends = 0, takeovers = 0, fenced = 0, zombie_appends = 0,
           appends_refused = 0, appends_timed_out = 0, appends_doubled = 0, reads_failed = 0,
           state_writes_lost = 0, store_outages = 0, projector_crashes = 0, sink_emptied = 0,
           sink_outages = 0, sink_replies_lost = 0, follower_restarts = 0, requests_dropped = 0;
  void Add(const SimStats& o);
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first check that failed, with what it saw
  SimStats stats;
  // SHA-256 over every partition's ledger events (repeats dropped) and the
  // projection: equal for equal runs.
  std::string fingerprint;
};

SimResult Simulate(const SimOptions& options);

// The command that replays one seed exactly.
std::string ReplayCommand(const SimOptions& options);

// Planted bug names for --plant: "fold-forgets-stock-change",
// "recovery-resumes-late", "checkpoint-before-data"; false if unknown.
bool ParsePlantedBug(std::string_view name, PlantedBug* out);
std::string_view PlantedBugName(PlantedBug bug);

}  // namespace tl::sim
