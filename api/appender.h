// CommandAppender: appends commands to the commands log without holding the
// caller. Append queues a command and returns at once; one writer thread per
// group of partitions takes everything queued for a partition and appends it
// as one batch (one durable write: group commit), then runs each command's
// completion with its position. So no HTTP event loop ever waits for an
// fsync or a Kafka acknowledgement, and the batch grows with the load.
//
// Bounded: with queue_max commands waiting, Append refuses at once
// (ResourceExhausted) and the api answers 503. Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/log/command_log.h"
#include "engine/log/event_log.h"
#include "ticketledger/v1/commands.pb.h"

namespace tl::api {

class CommandAppender {
 public:
  using Done = std::function<void(absl::StatusOr<CommandPosition>)>;
  // `on_batch(records, seconds)` (may be empty) observes each durable append.
  CommandAppender(EventLog* commands, size_t queue_max, int writers,
                  std::function<void(size_t, double)> on_batch = {});
  ~CommandAppender();

  // Queues `command` for its campaign's partition. `done` runs on a writer
  // thread once the command is durable (or the append failed); keep it short.
  absl::Status Append(const pb::Command& command, Done done);
  size_t queued() const { return queued_.load(); }
  void Stop();

 private:
  struct Item {
    int partition;
    LogRecord record;
    Done done;
  };
  struct Writer {
    absl::Mutex mu;
    absl::CondVar cv;
    std::deque<Item> queue;  // guarded by mu
    std::thread thread;
  };
  void Run(Writer* w);

  EventLog* const commands_;
  const size_t queue_max_, batch_max_ = 4096;
  const std::function<void(size_t, double)> on_batch_;
  std::vector<std::unique_ptr<Writer>> writers_;
  std::atomic<size_t> queued_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace tl::api
