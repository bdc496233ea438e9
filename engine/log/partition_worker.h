// PartitionWorkers: the per-partition thread scaffold of the engine, the
// ledger follower and the projector. One thread per partition runs rounds of
// the owner's work until Stop:
//
//   round(p) -> n > 0: did work, go again at once
//               0:     nothing to do: idle(p) (wait for data), go again
//               error: reported (status(), once on stderr); a retryable one
//                      (default: Unavailable, DeadlineExceeded: the log or a
//                      store is away) is tried again after a capped
//                      exponential backoff; any other stops the partition
//                      with it. Nothing is skipped.
//
// It also keeps each partition's progress -- a count that only grows, such
// as the end of the commands decided -- for WaitFor, the one "wait until
// partition p has answered the commands before `end`".
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tl {

struct WorkerOptions {
  std::string name;         // the logger (component) it reports as: "engine", "projector redis"
  std::string thread_name;  // at most 15 characters: "tl-engine"
  absl::Duration backoff_min = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(5);
};

class PartitionWorkers {
 public:
  using Round = std::function<absl::StatusOr<size_t>(int partition)>;
  using Idle = std::function<void(int partition)>;
  using Retryable = std::function<bool(const absl::Status&)>;

  // Workers for `owned` of `partitions` partitions (empty: all of them).
  PartitionWorkers(WorkerOptions options, int partitions, std::vector<int> owned = {});
  ~PartitionWorkers();

  // Starts one thread per owned partition. Set before: nothing else.
  void Start(Round round, Idle idle, Retryable retryable = IsTransient);
  void Stop();
  const std::atomic<bool>& stopping() const { return stop_; }

  int partitions() const { return static_cast<int>(parts_.size()); }
  bool owns(int p) const { return p >= 0 && p < partitions() && parts_[p] != nullptr; }
  std::vector<int> owned() const;
  const WorkerOptions& options() const { return options_; }

  // Records the outcome of an attempt on p: an error is kept in error(p)
  // until an OK, counted, and said on stderr once per distinct error; an OK
  // after trouble says "back".
  void Report(int p, const absl::Status& st);
  // Moves p's progress up to `end` (never down), waking waiters.
  void Advance(int p, uint64_t end);
  // Blocks until p's progress reaches `end` (OK), p's last attempt failed
  // (that error), or `timeout` passes (DeadlineExceeded saying `late`).
  absl::Status WaitFor(int p, uint64_t end, absl::Duration timeout, std::string_view late);

  // Without locking (for metrics).
  uint64_t progress(int p) const { return owns(p) ? parts_[p]->progress_seen.load() : 0; }
  bool failing(int p) const { return owns(p) && parts_[p]->failing.load(); }
  uint64_t failures(int p);
  absl::Status error(int p);
  // OK, or the first failing partition's error.
  absl::Status status();

  static bool IsTransient(const absl::Status& st);

 private:
  struct Part {
    absl::Mutex mu;
    uint64_t progress = 0;  // guarded by mu
    absl::Status error;     // guarded by mu
    uint64_t failures = 0;  // guarded by mu
    std::atomic<uint64_t> progress_seen{0};
    std::atomic<bool> failing{false};
    std::thread thread;
  };
  void Run(int p);

  const WorkerOptions options_;
  std::vector<std::unique_ptr<Part>> parts_;  // null: not owned
  Round round_;
  Idle idle_;
  Retryable retryable_;
  std::atomic<bool> stop_{false};
};

}  // namespace tl
