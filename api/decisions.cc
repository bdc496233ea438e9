#include "api/decisions.h"

#include <pthread.h>

#include "absl/time/clock.h"

namespace tl::api {

DecisionWaiters::DecisionWaiters(int partitions) {
  for (int p = 0; p < partitions; ++p) parts_.push_back(std::make_unique<Part>());
  timer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "tl-waiters");
    TimerLoop();
  });
}

DecisionWaiters::~DecisionWaiters() { Stop(); }

void DecisionWaiters::Stop() {
  {
    absl::MutexLock lock(&timer_mu_);
    if (stop_) return;
    stop_ = true;
  }
  timer_.join();
  // Whatever still waits is answered as not decided yet.
  absl::MutexLock lock(&timer_mu_);
  while (!by_deadline_.empty()) {
    Fire(by_deadline_.top().second, false);
    by_deadline_.pop();
  }
}

void DecisionWaiters::Fire(const std::shared_ptr<Waiter>& w, bool decided) {
  if (w->fired.exchange(true)) return;
  waiting_.fetch_sub(1);
  // The waiter stays in the other heap until its end or deadline: let go of
  // what the completion holds (the request, its connection) now.
  auto done = std::move(w->done);
  w->done = nullptr;
  done(decided);
}

void DecisionWaiters::Wait(int partition, uint64_t end, absl::Time deadline,
                           std::function<void(bool)> done) {
  auto w = std::make_shared<Waiter>();
  w->done = std::move(done);
  waiting_.fetch_add(1);
  Part& part = *parts_[partition];
  bool decided;
  {
    absl::MutexLock lock(&part.mu);
    decided = part.decided >= end;
    if (!decided) part.by_end.emplace(end, w);
  }
  if (decided) return Fire(w, true);
  absl::ReleasableMutexLock lock(&timer_mu_);
  if (stop_) {
    lock.Release();
    return Fire(w, false);
  }
  by_deadline_.emplace(deadline, std::move(w));
}

void DecisionWaiters::Progress(int partition, uint64_t decided_end) {
  Part& part = *parts_[partition];
  std::vector<std::shared_ptr<Waiter>> ready;
  {
    absl::MutexLock lock(&part.mu);
    part.decided = std::max(part.decided, decided_end);
    while (!part.by_end.empty() && part.by_end.top().first <= part.decided) {
      ready.push_back(part.by_end.top().second);
      part.by_end.pop();
    }
  }
  for (auto& w : ready) Fire(w, true);
}

void DecisionWaiters::TimerLoop() {
  absl::MutexLock lock(&timer_mu_);
  while (!stop_) {
    absl::Time next =
        by_deadline_.empty() ? absl::Now() + absl::Milliseconds(100) : by_deadline_.top().first;
    timer_mu_.AwaitWithDeadline(absl::Condition(&stop_),
                                std::min(next, absl::Now() + absl::Milliseconds(100)));
    absl::Time now = absl::Now();
    while (!by_deadline_.empty() && by_deadline_.top().first <= now) {
      auto w = by_deadline_.top().second;
      by_deadline_.pop();
      timer_mu_.Unlock();
      Fire(w, false);
      timer_mu_.Lock();
    }
  }
}

}  // namespace tl::api
