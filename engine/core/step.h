// The engine's one step: decide a command and fold the events it causes, and
// the deterministic encoding of what the step writes. Pure: no I/O, no clock.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "engine/core/decide.h"
#include "engine/core/limits.h"
#include "engine/core/state.h"
#include "google/protobuf/message.h"
#include "ticketledger/v1/commands.pb.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

// The bytes of `m` as the ledger holds them (and as the digest chains them).
std::string EncodeDeterministic(const google::protobuf::Message& m);

// Decides `command` and folds each event it causes at once (so the next
// command sees them), numbering them as the ledger holds them: sequence from
// the state, command_events on the first. `emit(event, encoded)` gets each
// event after it is folded and may keep the bytes. The one decide-and-fold
// step, shared by the engine and the audit's re-decide.
absl::Status DecideAndFold(
    EngineState* state, const EngineConfig& config, const Limits& limits,
    const pb::Command& command, uint64_t command_offset, EventList* events,
    const std::function<absl::Status(const pb::Event&, std::string&&)>& emit);

}  // namespace tl
