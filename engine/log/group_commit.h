// The writer queue of a group commit (LevelDB's DBImpl::Write pattern), shared
// by the log backends. Appenders queue up under the backend's mutex; the first
// in line leads: it takes the writers queued behind it, writes them as one
// batch (outside the lock), and Finish wakes exactly those writers and the
// next leader. Each waiter sleeps on its own CondVar: absl::Mutex::Await would
// re-evaluate every waiter's condition at every unlock (measured as half the
// CPU in context switches with 64 appenders).
//
// Writer must have `bool done` and `absl::CondVar cv`. Every call needs the
// backend's mutex held.
#pragma once

#include <deque>

#include "absl/synchronization/mutex.h"
#include "engine/core/check.h"

namespace tl {

template <typename Writer>
class GroupCommitQueue {
 public:
  // Queues `w` and waits. Returns true if `w` leads (it must then call
  // Finish), false if another leader already wrote it.
  bool Enter(Writer* w, absl::Mutex* mu) {
    TL_CHECK(!w->done);  // a writer is queued once
    queue_.push_back(w);
    while (!w->done && queue_.front() != w) w->cv.Wait(mu);
    return !w->done;
  }
  // The writers queued now, leader first.
  const std::deque<Writer*>& queued() const { return queue_; }
  // The leader is done with the first `n` queued writers (itself included):
  // marks them done, wakes them, and wakes the next leader.
  void Finish(size_t n, Writer* leader) {
    TL_CHECK(!queue_.empty() && queue_.front() == leader);  // only the leader finishes
    TL_CHECK_GE(n, 1u);                                     // ... and at least itself
    TL_CHECK_LE(n, queue_.size());
    for (size_t i = 0; i < n; ++i) {
      Writer* x = queue_.front();
      queue_.pop_front();
      x->done = true;
      if (x != leader) x->cv.Signal();
    }
    if (!queue_.empty()) queue_.front()->cv.Signal();
  }

 private:
  std::deque<Writer*> queue_;
};

}  // namespace tl
