// Node: one data directory holding a single-node ticketledger — the embedded
// log (commands + ledger) under <dir>/log and the engine state under
// <dir>/state — and the engine over them. ticketctl and ticketd's `all` role
// use it; split deployments use the pieces directly.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/fold.h"
#include "engine/log/command_log.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/state_store.h"
#include "ticketledger/v1/commands.pb.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

struct NodeOptions {
  std::string data_dir;
  int partitions = 1;
  EngineConfig config;
  Limits limits;
};

class Node {
 public:
  // Opens (creating if missing) the data directory and recovers the engine
  // (catch-up from the ledger). The engine is not started.
  static absl::StatusOr<std::unique_ptr<Node>> Open(const NodeOptions& options);

  EmbeddedLogDb& log() { return *log_; }
  StateStore& store() { return *store_; }
  Engine& engine() { return *engine_; }
  const NodeOptions& options() const { return options_; }

  // Appends one command (durable on return).
  absl::StatusOr<CommandPosition> Submit(const pb::Command& command);

 private:
  NodeOptions options_;
  std::unique_ptr<EmbeddedLogDb> log_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace tl
