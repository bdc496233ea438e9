// What the HTTP api needs from the rest of ticketledger, so one Api serves
// both deployments: a single node (the engine in this process, embedded log)
// and the split api role (commands to Kafka, reads from a LedgerFollower
// folding the ledger the engine process writes).
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/node.h"

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
};

// ticketd --role all: the node's own engine and embedded log.
class NodeBackend final : public ApiBackend {
 public:
  explicit NodeBackend(Node* node) : node_(node) {}
  int partitions() const override { return node_->options().partitions; }
  const Limits& limits() const override { return node_->options().limits; }
  absl::StatusOr<CommandPosition> Submit(const pb::Command& c) override { return node_->Submit(c); }
  void WithState(int p, const std::function<void(const EngineState&, uint64_t)>& fn) override {
    node_->engine().WithState(p, fn);
  }
  absl::Status WaitForCommands(int p, uint64_t end, absl::Duration timeout) override {
    return node_->engine().WaitForCommands(p, end, timeout);
  }
  EventLog* commands() override { return node_->log().commands(); }
  EventLog* ledger() override { return node_->log().ledger(); }
  absl::Status Ready() override;
  void OnProgress(std::function<void(int, uint64_t)> fn) override {
    node_->engine().set_on_decided(std::move(fn));
  }

 private:
  Node* node_;
};

// ticketd --role api: commands to a (Kafka) log, reads from the ledger.
class SplitBackend final : public ApiBackend {
 public:
  SplitBackend(EventLog* commands, EventLog* ledger, LedgerFollower* follower, Limits limits)
      : commands_(commands), ledger_(ledger), follower_(follower), limits_(limits) {}
  int partitions() const override { return commands_->partitions(); }
  const Limits& limits() const override { return limits_; }
  absl::StatusOr<CommandPosition> Submit(const pb::Command& c) override {
    return AppendCommand(commands_, c);
  }
  void WithState(int p, const std::function<void(const EngineState&, uint64_t)>& fn) override {
    follower_->WithState(p, fn);
  }
  absl::Status WaitForCommands(int p, uint64_t end, absl::Duration timeout) override {
    return follower_->WaitForCommands(p, end, timeout);
  }
  EventLog* commands() override { return commands_; }
  EventLog* ledger() override { return ledger_; }
  // From the follower's memory; an old command falls back to the ledger.
  absl::Status EventsFor(int p, uint64_t command_offset, std::vector<pb::Event>* out) override {
    absl::Status st = follower_->EventsForCommand(p, command_offset, out);
    if (absl::IsNotFound(st)) return EventsForCommand(ledger_, p, command_offset, out);
    return st;
  }
  absl::Status Ready() override;
  void OnProgress(std::function<void(int, uint64_t)> fn) override {
    follower_->set_on_progress(std::move(fn));
  }

 private:
  EventLog* commands_;
  EventLog* ledger_;
  LedgerFollower* follower_;
  Limits limits_;
};

}  // namespace tl::api
