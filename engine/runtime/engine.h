// The engine loop for one partition: the single writer that turns commands
// into ledger events and folds them into state.
//
//   Step:    read a batch of commands -> decide each (folding its events at
//            once so the next command sees them) -> append all events to the
//            ledger (durable) -> commit state + checkpoint in one WriteBatch.
//   Recover: load state + checkpoint, fold the ledger from the checkpoint's
//            offset to its end (catch-up), resume commands after the last
//            command the ledger has answered.
//
// The ledger is the truth and the state store a cache of its fold, so a crash
// at any point neither loses nor duplicates an event: events appended but not
// yet committed to the store are re-folded on recovery, and their commands
// are not decided again.
//
// Not thread-safe: one PartitionEngine per partition, driven by one thread.
// Engine (below) runs them and lets other threads wait for a decision.
#pragma once

#include <google/protobuf/arena.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/check.h"
#include "engine/core/decide.h"
#include "engine/core/limits.h"
#include "engine/core/state.h"
#include "engine/core/step.h"
#include "engine/log/decode.h"
#include "engine/log/event_log.h"
#include "engine/log/ledger_reader.h"
#include "engine/log/partition_worker.h"
#include "engine/runtime/state_store.h"
#include "engine/runtime/ticker.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

class PartitionEngine {
 public:
  PartitionEngine(int partition, EventLog* commands, EventLog* ledger, StateStore* store,
                  EngineConfig config, Limits limits);

  // Must be called first, and again after any error from Step.
  absl::Status Recover();
  // Decides up to Limits::command_batch_max commands; returns how many.
  // `state_mu`, if given, is held only while the in-memory state changes
  // (decide + fold), not during the ledger append and the store commit, so
  // readers wait for microseconds, not for an fsync. Readers may therefore
  // see a decision a moment before its events are durable; that is safe
  // because it follows deterministically from commands that already are.
  absl::StatusOr<size_t> Step(absl::Mutex* state_mu = nullptr);

  const EngineState& state() const { return state_; }
  const pb::Checkpoint& checkpoint() const { return checkpoint_; }
  int partition() const { return partition_; }
  bool recovered() const { return recovered_; }

  // Called during Recover's catch-up with (ledger offset folded, ledger end).
  std::function<void(uint64_t, uint64_t)> on_progress;
  // Off: Recover reads the ledger on the calling thread only (the
  // simulator runs everything on one thread).
  void set_recovery_read_ahead(bool on) { read_ahead_ = on; }

 private:
  // Batches Recover's reader keeps read ahead of the fold.
  static constexpr size_t kRecoveryReadAhead = 2;
  // A command answer being gathered by Recover: its first `size` events.
  struct Answer {
    std::vector<pb::Event> events;
    std::vector<LogRecord> records;
    size_t size = 0;
    uint32_t want = 0;  // the first event's command_events
  };
  absl::Status Commit();
  // Recover's catch-up over one batch: folds whole command answers only
  // (the rest waits in `pending`), then commits if it folded any.
  absl::Status FoldBatch(LedgerBatch& batch, Answer& pending);

  const int partition_;
  EventLog* const commands_;
  EventLog* const ledger_;
  StateStore* const store_;
  const EngineConfig config_;
  const Limits limits_;
  EngineState state_;
  pb::Checkpoint checkpoint_;
  bool recovered_ = false;
  bool read_ahead_ = true;
  std::vector<LogRecord> in_;
  EventList events_;  // one command's events; cleared (objects kept for reuse) per command
};

// Runs one PartitionEngine per partition, each on its own thread.
class Engine {
 public:
  // Serves `owned` partitions (empty: all of them).
  Engine(EventLog* commands, EventLog* ledger, StateStore* store, EngineConfig config,
         Limits limits, std::vector<int> owned = {});
  ~Engine();

  // Recovers every partition (catch-up), synchronously.
  absl::Status Recover();
  // Starts the partition threads; a partition not yet recovered recovers on
  // its thread first. A partition whose log is unavailable (Unavailable,
  // DeadlineExceeded: brokers down, a timeout) reports the error in status()
  // and retries with backoff, recovering again; any other error (data loss,
  // a fenced producer) stops the partition with it. Nothing is skipped.
  void Start();
  void Stop();

  // Blocks until `partition` has decided every command before `command_end`,
  // or the timeout passes, or the partition failed.
  absl::Status WaitForCommands(int partition, uint64_t command_end, absl::Duration timeout);
  // Runs `fn` with partition p's state while its writer is paused between
  // steps (reads must not race the writer).
  // `fn` gets the state and the end of the commands decided so far.
  void WithState(int partition,
                 const std::function<void(const EngineState&, uint64_t decided_end)>& fn);
  absl::Status status();
  int partitions() const { return workers_.partitions(); }
  bool owns(int p) const { return workers_.owns(p); }
  std::vector<int> owned() const { return workers_.owned(); }
  // Without waiting for the partition's writer (for metrics): the end of the
  // commands decided, and whether its last attempt failed.
  uint64_t decided_end(int p) const { return workers_.progress(p); }
  bool failing(int p) const { return workers_.failing(p); }
  PartitionEngine& partition(int p) {
    TL_CHECK(p >= 0 && p < static_cast<int>(parts_.size()) && parts_[p] != nullptr);
    return *parts_[p]->engine;
  }
  // Called on a partition's thread after each step that decided commands,
  // with the end of the commands decided. Set before Start.
  void set_on_decided(std::function<void(int partition, uint64_t decided_end)> fn) {
    on_decided_ = std::move(fn);
  }
  // With tick_ms > 0, Start also starts the waiting-room ticker over the
  // owned partitions (appending Tick commands to the commands log) and Stop
  // stops it first. Set before Start.
  void set_ticker(TickerOptions options) { ticker_options_ = std::move(options); }

 private:
  struct Part {
    std::unique_ptr<PartitionEngine> engine;
    absl::Mutex mu;            // held by the writer while it changes the state
    uint64_t decided_end = 0;  // guarded by mu
  };
  // One round of partition p's thread: recover if needed, then one Step.
  absl::StatusOr<size_t> Round(int p);

  EventLog* const commands_;
  std::function<void(int, uint64_t)> on_decided_;
  TickerOptions ticker_options_;
  std::unique_ptr<Ticker> ticker_;
  std::vector<std::unique_ptr<Part>> parts_;  // null: a partition this engine does not own
  PartitionWorkers workers_;                  // last: its threads stop before the rest goes
};

}  // namespace tl
