// The api's two backends (api/backend.h): the single node of role all and
// the split api role's Kafka commands log + ledger follower.
#pragma once

#include <functional>
#include <vector>

#include "api/backend.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/node.h"

namespace tl::app {

// ticketd --role all: the node's own engine and embedded log.
class NodeBackend final : public api::ApiBackend {
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
class SplitBackend final : public api::ApiBackend {
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
  std::optional<uint64_t> ConsumerLag() override { return follower_->lag(); }

 private:
  EventLog* commands_;
  EventLog* ledger_;
  LedgerFollower* follower_;
  Limits limits_;
};

}  // namespace tl::app
