// DecisionWaiters: completions for "tell me once partition p has decided
// every command before `end`" — how `Prefer: wait=N` waits without holding a
// thread. The engine (or, in the api role, the ledger follower) reports its
// progress after every step; each waiter runs exactly once, when its command
// is decided or at its deadline, whichever comes first. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tl::api {

class DecisionWaiters {
 public:
  explicit DecisionWaiters(int partitions);
  ~DecisionWaiters();

  // `done(true)` once decided, `done(false)` at `deadline`. `done` runs on
  // the reporting thread or the timer thread: keep it short (post the work).
  void Wait(int partition, uint64_t end, absl::Time deadline, std::function<void(bool)> done);
  // The partition has decided every command before `decided_end`.
  void Progress(int partition, uint64_t decided_end);
  // Answers every waiter as not decided (while their connections still
  // exist), and any later one at once.
  void Stop();
  size_t waiting() const { return waiting_.load(); }

 private:
  struct Waiter {
    std::atomic<bool> fired{false};
    std::function<void(bool)> done;
  };
  template <typename Key>
  struct Later {  // min-heap order
    bool operator()(const std::pair<Key, std::shared_ptr<Waiter>>& a,
                    const std::pair<Key, std::shared_ptr<Waiter>>& b) const {
      return a.first > b.first;
    }
  };
  template <typename Key>
  using Heap =
      std::priority_queue<std::pair<Key, std::shared_ptr<Waiter>>,
                          std::vector<std::pair<Key, std::shared_ptr<Waiter>>>, Later<Key>>;
  struct Part {
    absl::Mutex mu;
    uint64_t decided = 0;   // guarded by mu
    Heap<uint64_t> by_end;  // guarded by mu
  };
  void Fire(const std::shared_ptr<Waiter>& w, bool decided);
  void TimerLoop();

  std::vector<std::unique_ptr<Part>> parts_;
  absl::Mutex timer_mu_;
  Heap<absl::Time> by_deadline_ ABSL_GUARDED_BY(timer_mu_);
  bool stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::atomic<size_t> waiting_{0};
  std::thread timer_;
};

}  // namespace tl::api
