// The port: what the HTTP api needs from the rest of ticketledger, so one Api
// serves both deployments. The api depends on this interface only (core +
// log); the two adapters live with the roles that own an engine or a
// follower (ops/app/backends.h): a single node (the engine in this process,
// embedded log) and the split api role (commands to Kafka, reads from a
// LedgerFollower folding the ledger the engine process writes).
#pragma once

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/core/limits.h"
#include "engine/core/state.h"
#include "engine/log/command_log.h"
#include "engine/log/event_log.h"

namespace tl::api {

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;
  virtual int partitions() const = 0;
  virtual const Limits& limits() const = 0;
  // Appends a command; durable on return.
  virtual absl::StatusOr<CommandPosition> Submit(const pb::Command& command) = 0;
  // Runs `fn` on partition p's state and the end of the commands it answers.
  virtual void WithState(int p, const std::function<void(const EngineState&, uint64_t)>& fn) = 0;
  virtual absl::Status WaitForCommands(int p, uint64_t command_end, absl::Duration timeout) = 0;
  virtual EventLog* commands() = 0;
  virtual EventLog* ledger() = 0;
  // The events the command at `command_offset` caused (it must be decided).
  virtual absl::Status EventsFor(int p, uint64_t command_offset, std::vector<pb::Event>* out) {
    return EventsForCommand(ledger(), p, command_offset, out);
  }
  // Healthy, caught up, log writable.
  virtual absl::Status Ready() = 0;
  // `fn(partition, decided_end)` after every step of the engine (or fold of
  // the follower). Set before the engine or follower starts.
  virtual void OnProgress(std::function<void(int, uint64_t)> fn) = 0;
  // Ledger events of a Kafka log not yet folded here (the split api role's
  // follower); nullopt: no Kafka consumer in this process.
  virtual std::optional<uint64_t> ConsumerLag() { return std::nullopt; }
};

}  // namespace tl::api
