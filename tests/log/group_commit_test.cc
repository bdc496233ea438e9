// engine/log/group_commit: one leader writes the writers queued behind it,
// each writer is written exactly once and in queue order, and the next
// leader is woken.
#include "engine/log/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace tl {
namespace {

struct Writer {
  int id = 0;
  bool done = false;
  absl::CondVar cv;
};

// A backend in miniature: Append queues a writer; its leader "writes" the
// queued writers (up to max_batch) outside the lock, as a real backend does.
class Backend {
 public:
  explicit Backend(size_t max_batch) : max_batch_(max_batch) {}

  // Returns true if this writer led a batch.
  bool Append(int id) {
    Writer w;
    w.id = id;
    absl::MutexLock lock(&mu_);
    if (!queue_.Enter(&w, &mu_)) return false;
    std::vector<int> batch;
    for (Writer* x : queue_.queued()) {
      if (batch.size() == max_batch_) break;
      batch.push_back(x->id);
    }
    mu_.Unlock();
    {
      absl::MutexLock written(&written_mu_);
      batches_.push_back(batch);
    }
    mu_.Lock();
    queue_.Finish(batch.size(), &w);
    return true;
  }
  std::vector<std::vector<int>> batches() {
    absl::MutexLock lock(&written_mu_);
    return batches_;
  }
  absl::Mutex mu_;
  GroupCommitQueue<Writer> queue_ ABSL_GUARDED_BY(mu_);

 private:
  const size_t max_batch_;
  absl::Mutex written_mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(written_mu_);
};

TEST(GroupCommit, ALoneWriterLeadsAndWritesItself) {
  Backend b(8);
  EXPECT_TRUE(b.Append(1));
  EXPECT_TRUE(b.Append(2));
  EXPECT_EQ(b.batches(), (std::vector<std::vector<int>>{{1}, {2}}));
  absl::MutexLock lock(&b.mu_);
  EXPECT_TRUE(b.queue_.queued().empty());
}

TEST(GroupCommit, LeaderTakesThoseQueuedBehindAndWakesTheNextLeader) {
  absl::Mutex mu;
  GroupCommitQueue<Writer> queue;
  Writer a, w2, w3;
  a.id = 1;
  w2.id = 2;
  w3.id = 3;
  bool led2 = false, led3 = false;
  mu.Lock();
  ASSERT_TRUE(queue.Enter(&a, &mu));  // alone: leads at once
  mu.Unlock();
  std::thread t2([&] {
    absl::MutexLock lock(&mu);
    led2 = queue.Enter(&w2, &mu);
    if (led2) queue.Finish(1, &w2);
  });
  std::thread t3([&] {
    absl::MutexLock lock(&mu);
    led3 = queue.Enter(&w3, &mu);
    if (led3) queue.Finish(1, &w3);
  });
  mu.Lock();
  mu.Await(absl::Condition(
      +[](GroupCommitQueue<Writer>* q) { return q->queued().size() == 3; }, &queue));
  ASSERT_EQ(queue.queued().front(), &a);
  // The leader writes itself and the first writer behind it; the last one
  // queued must become the next leader and write itself.
  Writer* second = queue.queued()[1];
  Writer* third = queue.queued()[2];
  queue.Finish(2, &a);
  EXPECT_TRUE(a.done);
  EXPECT_TRUE(second->done);
  mu.Unlock();
  t2.join();
  t3.join();
  EXPECT_TRUE(w2.done);
  EXPECT_TRUE(w3.done);
  // Exactly one of the two led: the one that was queued last.
  EXPECT_EQ(led2, third == &w2);
  EXPECT_EQ(led3, third == &w3);
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(queue.queued().empty());
}

TEST(GroupCommit, EveryWriterIsWrittenOnceInBatchesOfAtMostTheLimit) {
  constexpr int kThreads = 8, kPerThread = 200;
  constexpr size_t kMaxBatch = 5;
  Backend b(kMaxBatch);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&b, t] {
      for (int i = 0; i < kPerThread; ++i) b.Append(t * kPerThread + i);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int> written;
  for (const auto& batch : b.batches()) {
    EXPECT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), kMaxBatch);
    written.insert(written.end(), batch.begin(), batch.end());
  }
  ASSERT_EQ(written.size(), size_t{kThreads * kPerThread});
  // A thread's writers come out in the order it made them (its next append
  // waits for the last), and none twice.
  std::vector<int> last(kThreads, -1);
  for (int id : written) {
    EXPECT_GT(id, last[id / kPerThread]) << id;
    last[id / kPerThread] = id;
  }
  std::sort(written.begin(), written.end());
  EXPECT_EQ(std::adjacent_find(written.begin(), written.end()), written.end());
  absl::MutexLock lock(&b.mu_);
  EXPECT_TRUE(b.queue_.queued().empty());
}

// Programmer errors abort with the check that failed: only the leader
// finishes, and never for more writers than are queued.
TEST(GroupCommitDeathTest, OnlyTheLeaderFinishesAndNoMoreThanQueued) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto finish = [](bool as_leader, size_t n) {
    absl::Mutex mu;
    GroupCommitQueue<Writer> queue;
    Writer leader, other;
    absl::MutexLock lock(&mu);
    queue.Enter(&leader, &mu);  // alone: leads at once
    queue.Finish(n, as_leader ? &leader : &other);
  };
  EXPECT_DEATH(finish(false, 1), "TL_CHECK failed: .*queue_.front\\(\\) == leader");
  EXPECT_DEATH(finish(true, 2), "TL_CHECK failed: n <= queue_.size\\(\\) \\(2 vs 1\\)");
  EXPECT_DEATH(finish(true, 0), "TL_CHECK failed: n >= 1u");
  finish(true, 1);  // the right call
}

}  // namespace
}  // namespace tl
