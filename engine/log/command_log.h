// The two ways every role meets the commands log from outside the engine:
// appending a command (the api, ticketctl), and finding the ledger events a
// command caused (answers, `Prefer: wait`, tests).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/schema.h"
#include "engine/log/event_log.h"

namespace tl {

// Where a command landed in the commands log.
struct CommandPosition {
  int partition = 0;
  uint64_t offset = 0;
};

// Appends one command to `commands`, in its campaign's partition (durable on
// return). The one way commands enter a log, for every role.
absl::StatusOr<CommandPosition> AppendCommand(EventLog* commands, const pb::Command& command);

// 16 fresh random bytes (OpenSSL's RAND_bytes) for CreateCampaign.seed_nonce
// (engine/core/draw.h): whoever makes a create command draws them here; the
// engine only reads them from the command, so its decisions stay a function
// of the log.
absl::StatusOr<std::string> NewSeedNonce();

// The events caused by the command at `command_offset`, found by binary
// search over the ledger (command offsets never decrease along a partition).
absl::Status EventsForCommand(EventLog* ledger, int partition, uint64_t command_offset,
                              std::vector<pb::Event>* out);

}  // namespace tl
