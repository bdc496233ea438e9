// LedgerFollower: folds a ledger into in-memory state, one thread per
// partition, without deciding anything. It is the read side of a process that
// does not run the engine (ticketd --role api): the same fold as the engine's,
// so it sees exactly the engine's state as of the ledger offset it reached.
//
// The ledger is read through LedgerReader (its policy: an identical repeat
// of a sequence already folded is dropped; a different one, or a gap, stops
// the partition with DATA_LOSS, never a silent skip). An unavailable log
// (brokers down) is reported in status() and retried with the workers'
// capped backoff.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/check.h"
#include "engine/core/limits.h"
#include "engine/core/state.h"
#include "engine/log/event_log.h"
#include "engine/log/ledger_reader.h"
#include "engine/log/partition_worker.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

class LedgerFollower {
 public:
  LedgerFollower(EventLog* ledger, EngineConfig config, Limits limits = {},
                 size_t recent_events_max = 200'000);
  ~LedgerFollower();

  void Start();
  void Stop();
  // One round of partition p on the calling thread (instead of Start's
  // threads: the simulator): folds the next batch; returns the records read.
  absl::StatusOr<size_t> RoundOnce(int p) { return Round(p); }

  // `fn` gets the folded state and the end of the commands it answers (one
  // past the last command offset seen in the ledger).
  void WithState(int partition,
                 const std::function<void(const EngineState&, uint64_t decided_end)>& fn);
  // Blocks until the ledger answers commands before `command_end`.
  absl::Status WaitForCommands(int partition, uint64_t command_end, absl::Duration timeout);
  // The events caused by the command at `command_offset`, from the recent
  // events kept in memory (recent_events_max per partition). NotFound when
  // the command is older than those (read the ledger then).
  absl::Status EventsForCommand(int partition, uint64_t command_offset,
                                std::vector<pb::Event>* out);
  absl::Status status();
  // Ledger records not yet folded, summed over partitions / of one.
  uint64_t lag();
  uint64_t lag(int partition);
  int partitions() const { return static_cast<int>(parts_.size()); }
  // Called on a partition's thread after each batch folded, with the end of
  // the commands the ledger answers. Set before Start.
  void set_on_progress(std::function<void(int partition, uint64_t decided_end)> fn) {
    on_progress_ = std::move(fn);
  }

 private:
  struct Part {
    explicit Part(EventLog* ledger, int p, size_t batch) : reader(ledger, p, {}, batch) {}
    absl::Mutex mu;
    EngineState state;             // guarded by mu
    uint64_t decided_end = 0;      // guarded by mu
    uint64_t next_offset = 0;      // guarded by mu
    std::deque<pb::Event> recent;  // guarded by mu; command offsets never decrease
    LedgerReader reader;           // the partition's thread only
    LedgerBatch batch;             // the partition's thread only
  };
  // One round of partition p's thread: fold the next batch of the ledger.
  absl::StatusOr<size_t> Round(int p);

  EventLog* const ledger_;
  const EngineConfig config_;
  const Limits limits_;
  const size_t recent_events_max_;
  std::function<void(int, uint64_t)> on_progress_;
  std::vector<std::unique_ptr<Part>> parts_;
  PartitionWorkers workers_;  // last: its threads stop before the rest goes

  // A partition number from our own callers: out of range is a bug.
  Part& part(int partition) {
    TL_CHECK_GE(partition, 0);
    TL_CHECK_LT(partition, static_cast<int>(parts_.size()));
    return *parts_[partition];
  }
};

}  // namespace tl
