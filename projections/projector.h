// The projector runtime: folds the ledger into a read model (a Sink: Redis,
// PostgreSQL) partition by partition, effectively once.
//
// Each Sink keeps, per ledger partition, a checkpoint (next ledger offset,
// next sequence) *inside the store*, written in the same transaction as the
// batch's data (PostgreSQL: one transaction; Redis: one MULTI/EXEC). The
// runtime reads the checkpoint back at start, so a crash between two batches
// re-applies nothing and skips nothing. Apply is conditional on the stored
// checkpoint still being where the batch began: two projectors (or a rebuild
// that swapped the namespace underneath) cannot both apply a batch; the
// loser reloads its checkpoint and goes on from there.
//
// The ledger is read through LedgerReader: a record whose sequence the store
// has already applied (a zombie engine's duplicate, a re-written torn answer)
// is dropped if it is byte-identical to the first one; a different one, or a
// gap in sequences, is DATA_LOSS and stops the partition. A store that fails
// (down, timing out) is retried with backoff capped at `backoff_max`,
// forever (PartitionWorkers): status() and Status() say which store is
// behind and by how much while it is away, and
// once it is back the partition catches up from its checkpoint.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/log/event_log.h"
#include "engine/log/ledger_reader.h"
#include "engine/log/partition_worker.h"
#include "ticketledger/v1/events.pb.h"

namespace tl::proj {

namespace pb = ::ticketledger::v1;

struct Checkpoint {
  uint64_t next_offset = 0;    // the next ledger offset to read
  uint64_t next_sequence = 1;  // the next ledger sequence to apply
  bool operator==(const Checkpoint& o) const {
    return next_offset == o.next_offset && next_sequence == o.next_sequence;
  }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string name() const = 0;  // "redis", "postgres"
  // Every partition's checkpoint (a partition never applied: the default).
  virtual absl::Status Load(int partitions, std::vector<Checkpoint>* out) = 0;
  // Applies `events` (in sequence order, all of `partition`) and moves the
  // partition's checkpoint from `from` to `to`, atomically. Returns
  // FailedPrecondition, applying nothing, if the stored checkpoint is not
  // `from` (someone else moved it).
  virtual absl::Status Apply(int partition, const std::vector<pb::Event>& events,
                             const Checkpoint& from, const Checkpoint& to) = 0;
};

struct ProjectorOptions {
  size_t batch_records = 8192;  // ledger records per read (and per store transaction)
  absl::Duration backoff_min = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
};

class Projector {
 public:
  Projector(EventLog* ledger, Sink* sink, ProjectorOptions options = {});
  ~Projector();

  // Follows the ledger on one thread per partition until Stop.
  void Start();
  void Stop();
  // Applies every partition up to the ledger's end as of the call, on the
  // calling thread (rebuild). `progress(records done, records total)` is
  // called after each batch. Store errors are retried like Start's.
  absl::Status RunToEnd(const std::function<void(uint64_t, uint64_t)>& progress = {});

  // One round of partition p on the calling thread: loads the checkpoint if
  // needed, reads the next batch unless one waits, applies it. Returns the
  // ledger records consumed (0: nothing new); a store error is returned, not
  // retried (the simulator's scheduler decides when to try again).
  absl::StatusOr<size_t> RoundOnce(int p) { return Round(p, std::numeric_limits<uint64_t>::max()); }

  struct PartitionStatus {
    uint64_t applied_offset = 0;  // next ledger offset to apply
    uint64_t ledger_end = 0;      // the ledger's end when Status() was called
    uint64_t failures = 0;        // store errors since start
    absl::Status error;           // the current trouble (OK when none)
  };
  std::vector<PartitionStatus> Status();
  // OK, or the first partition's trouble, naming the store and the lag.
  absl::Status status();
  const std::string& sink_name() const { return sink_name_; }

 private:
  struct Part {
    absl::Mutex mu;
    uint64_t applied_offset = 0;  // guarded by mu
    uint64_t ledger_end = 0;      // guarded by mu
    // The partition's thread (or RunToEnd) only:
    Checkpoint ckpt;
    bool loaded = false;   // ckpt and reader are the store's
    bool pending = false;  // batch was read but not applied yet
    std::optional<LedgerReader> reader;
    LedgerBatch batch;
    absl::Time verified;
  };
  // One round of partition p: load the checkpoint if needed, read the next
  // batch (up to `end`) unless one is pending, apply it. Returns the ledger
  // records consumed, 0 at the end.
  absl::StatusOr<size_t> Round(int p, uint64_t end);
  absl::Status LoadCheckpoint(int p);
  // While idle, checks that the store still holds what p applied.
  void Verify(int p);
  static bool Retryable(const absl::Status& st);

  EventLog* const ledger_;
  Sink* const sink_;
  const ProjectorOptions options_;
  const std::string sink_name_;
  std::vector<std::unique_ptr<Part>> parts_;
  PartitionWorkers workers_;  // last: its threads stop before the rest goes
};

}  // namespace tl::proj
