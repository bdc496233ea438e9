#include "engine/core/step.h"

#include "engine/core/check.h"
#include "engine/core/fold.h"

namespace tl {

std::string EncodeDeterministic(const google::protobuf::Message& m) {
  // Our schemas have no map fields and the engine's messages carry no
  // unknown fields, the two things that make protobuf's encoding vary; the
  // plain (and faster) serializer is therefore deterministic for them.
  std::string out;
  m.SerializeToString(&out);
  return out;
}

absl::Status DecideAndFold(
    EngineState* state, const EngineConfig& config, const Limits& limits,
    const pb::Command& command, uint64_t command_offset, EventList* events,
    const std::function<absl::Status(const pb::Event&, std::string&&)>& emit) {
  TL_CHECK(state != nullptr && events != nullptr);
  ClearEvents(events);
  const uint64_t first_sequence = state->next_sequence;
  if (absl::Status st = Decide(*state, config, limits, command, command_offset, events); !st.ok())
    return st;
  if (!events->empty()) (*events)[0].set_command_events(static_cast<uint32_t>(events->size()));
  // One buffer per thread: an `emit` that keeps the bytes moves them out;
  // one that only looks (the audit's re-decide) leaves it for the next event.
  thread_local std::string bytes;
  for (pb::Event& e : *events) {
    e.set_sequence(state->next_sequence);
    e.SerializeToString(&bytes);  // as EncodeDeterministic
    if (absl::Status st = Fold(state, config, e, bytes); !st.ok()) return st;
    if (absl::Status st = emit(e, std::move(bytes)); !st.ok()) return st;
  }
  // The promise to the caller: each event folded once, numbered in order.
  TL_CHECK_EQ(state->next_sequence, first_sequence + events->size());
  return absl::OkStatus();
}

}  // namespace tl
