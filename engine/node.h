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
#include "engine/embedded_log.h"
#include "engine/engine.h"
#include "engine/state_store.h"
#include "ticketledger/v1/commands.pb.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

struct NodeOptions {
  std::string data_dir;
  int partitions = 1;
  EngineConfig config;
  Limits limits;
};

// Where a command landed in the commands log.
struct CommandPosition {
  int partition = 0;
  uint64_t offset = 0;
};

// Appends one command to `commands`, in its campaign's partition (durable on
// return). The one way commands enter a log, for every role.
absl::StatusOr<CommandPosition> AppendCommand(EventLog* commands, const pb::Command& command);

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

// The events caused by the command at `command_offset`, found by binary
// search over the ledger (command offsets never decrease along a partition).
absl::Status EventsForCommand(EventLog* ledger, int partition, uint64_t command_offset,
                              std::vector<pb::Event>* out);

// The SHA-256 over the partitions' digests in order: one value that names the
// whole ledger's fold. For one partition it is still hashed, so the value does
// not depend on how it is printed.
Hash CombinedDigest(const std::vector<Hash>& partition_digests);

}  // namespace tl
