// Backoff: the one capped exponential backoff of the partition workers
// (engine, follower, projector). Each wait doubles the next, up to `max`;
// Reset after a success starts again from `min`.
#pragma once

#include <algorithm>
#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tl {

class Backoff {
 public:
  Backoff(absl::Duration min = absl::Milliseconds(50), absl::Duration max = absl::Seconds(5))
      : min_(min), max_(std::max(min, max)), next_(min) {}

  // The wait to take now; doubles the one after, capped at max.
  absl::Duration Take() {
    const absl::Duration d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  // Sleeps Take() in 10 ms slices, returning early once `stop` is set.
  void Wait(const std::atomic<bool>& stop) {
    for (absl::Time until = absl::Now() + Take(); !stop && absl::Now() < until;)
      absl::SleepFor(std::min(absl::Milliseconds(10), until - absl::Now()));
  }
  void Reset() { next_ = min_; }
  absl::Duration next() const { return next_; }

 private:
  const absl::Duration min_, max_;
  absl::Duration next_;
};

}  // namespace tl
