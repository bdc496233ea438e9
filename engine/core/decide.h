// decide(state, command) -> events. Pure: no I/O, no clock, no randomness;
// the same state and command give the same events, byte for byte.
//
// The events carry every envelope field except `sequence`, which the caller
// assigns as it folds them (fold.h). Decide never mutates the state; when one
// command causes several events (an entry admitted and drawn at once, a tick
// that serves many positions, the opening of a pre-queue) it tracks the
// intermediate counters itself, so folding the events in order gives exactly
// the state decide assumed.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <vector>

#include "absl/status/status.h"
#include "engine/core/limits.h"
#include "engine/core/state.h"
#include "ticketledger/v1/commands.pb.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

// Decide's output. The engine reuses one list: Clear() keeps the Event
// objects (and their string buffers) for the next command.
using EventList = google::protobuf::RepeatedPtrField<pb::Event>;

// Empties `list` for the next Decide. Clearing an event deletes its body
// message, so an entry's three (QueueEntered, EntryAdmitted, DrawResolved)
// would be allocated again for every command; this keeps a few per thread
// for Decide to reuse (measured: ~5% of decide + fold).
void ClearEvents(EventList* list);

// Appends the events caused by `command` (found at `command_offset` in the
// commands log) to `out`. Returns an error only for a command the engine
// cannot understand (no body: written by a newer api), which must stop the
// engine rather than be skipped.
absl::Status Decide(const EngineState& state, const EngineConfig& config, const Limits& limits,
                    const pb::Command& command, uint64_t command_offset, EventList* out);

}  // namespace tl
