#include "api/appender.h"

#include <pthread.h>

#include <chrono>
#include <map>

namespace tl::api {

CommandAppender::CommandAppender(EventLog* commands, size_t queue_max, int writers,
                                 std::function<void(size_t, double)> on_batch)
    : commands_(commands), queue_max_(queue_max), on_batch_(std::move(on_batch)) {
  writers = std::max(1, std::min(writers, commands->partitions()));
  for (int i = 0; i < writers; ++i) {
    writers_.push_back(std::make_unique<Writer>());
    writers_.back()->thread = std::thread([this, w = writers_.back().get()] {
      pthread_setname_np(pthread_self(), "tl-append");
      Run(w);
    });
  }
}

CommandAppender::~CommandAppender() { Stop(); }

void CommandAppender::Stop() {
  if (stop_.exchange(true)) return;
  for (auto& w : writers_) {
    {
      absl::MutexLock lock(&w->mu);
      w->cv.Signal();
    }
    w->thread.join();
  }
}

absl::Status CommandAppender::Append(const pb::Command& command, Done done) {
  if (stop_) return absl::UnavailableError("the server is stopping");
  if (queued_.fetch_add(1) >= queue_max_) {
    queued_.fetch_sub(1);
    return absl::ResourceExhaustedError("too many commands are waiting to be stored");
  }
  const int p = PartitionFor(command.campaign_id(), commands_->partitions());
  Writer& w = *writers_[static_cast<size_t>(p) % writers_.size()];
  absl::MutexLock lock(&w.mu);
  w.queue.push_back(
      Item{p, LogRecord{0, command.campaign_id(), command.SerializeAsString()}, std::move(done)});
  if (w.queue.size() == 1) w.cv.Signal();
  return absl::OkStatus();
}

void CommandAppender::Run(Writer* w) {
  std::vector<Item> batch;
  // Partition -> indices into batch, in queue order (ordered: the same
  // partition order every time, not that it matters for correctness).
  std::map<int, std::vector<size_t>> by_partition;
  while (true) {
    batch.clear();
    {
      absl::MutexLock lock(&w->mu);
      while (w->queue.empty() && !stop_) w->cv.Wait(&w->mu);
      if (w->queue.empty()) return;
      while (!w->queue.empty() && batch.size() < batch_max_) {
        batch.push_back(std::move(w->queue.front()));
        w->queue.pop_front();
      }
    }
    by_partition.clear();
    for (size_t i = 0; i < batch.size(); ++i) by_partition[batch[i].partition].push_back(i);
    for (auto& [p, idx] : by_partition) {
      std::vector<LogRecord> records;
      records.reserve(idx.size());
      for (size_t i : idx) records.push_back(std::move(batch[i].record));
      auto t0 = std::chrono::steady_clock::now();
      absl::StatusOr<uint64_t> first = commands_->Append(p, std::move(records));
      if (on_batch_ && first.ok())
        on_batch_(idx.size(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      for (size_t k = 0; k < idx.size(); ++k) {
        Item& item = batch[idx[k]];
        queued_.fetch_sub(1);
        if (first.ok()) {
          item.done(CommandPosition{p, *first + k});
        } else {
          item.done(first.status());
        }
      }
    }
  }
}

}  // namespace tl::api
