// The waiting-room ticker: every tick_ms it appends a Tick command for each
// campaign of its partitions whose queue must move (or whose random queue
// opens). It runs with whoever owns the partitions (an Engine: role all, and
// each partition an EngineGroup member holds in role engine), so the queue
// keeps moving as long as some engine owns the partition, and it stops here
// when the partition moves away.
//
// The wall clock enters the ledger only as the Tick command's time_ms, which
// is written in the commands log: replaying the log decides the same events.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/state.h"
#include "engine/log/event_log.h"

namespace tl {

// The campaigns of `state` that need a Tick at `now_ms`, in id order: a
// random queue due to open (opens_at_ms reached, not opened yet), or a queue
// with an admission rate, not paused, with people waiting.
std::vector<std::string> CampaignsDueForTick(const EngineState& state, uint64_t now_ms);

struct TickerOptions {
  uint64_t tick_ms = 0;  // 0: no ticker
  // Called after each round with the Tick commands it appended (metrics).
  std::function<void(uint64_t appended)> on_appended;
};

class Ticker {
 public:
  // Runs `fn` with a partition's state while its writer is paused.
  using WithStateFn = std::function<void(
      int partition, const std::function<void(const EngineState&, uint64_t decided_end)>& fn)>;

  // Ticks `partitions` by appending to `commands` (which outlives the ticker).
  Ticker(EventLog* commands, std::vector<int> partitions, WithStateFn with_state,
         TickerOptions options);
  ~Ticker();

  // One round at `now_ms`: a Tick for every due campaign of every partition.
  // Returns how many were appended; an append error ends the round with it
  // (the next round tries again).
  absl::StatusOr<uint64_t> TickOnce(uint64_t now_ms);

  // Starts a thread running TickOnce with the wall clock every tick_ms (if
  // tick_ms > 0). Stop joins it; no Tick is appended after Stop returns.
  void Start();
  void Stop();

 private:
  void Run();

  EventLog* const commands_;
  const std::vector<int> partitions_;
  const WithStateFn with_state_;
  const TickerOptions options_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stopping_{false};  // ends a round early (an append may wait for the log)
  std::thread thread_;
};

}  // namespace tl
