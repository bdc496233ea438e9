#include "engine/log/decode.h"

#include "absl/strings/str_cat.h"

namespace tl {

absl::Status DecodeEvent(const LogRecord& r, int partition, pb::Event* e) {
  if (!e->ParseFromString(r.value))
    return absl::DataLossError(absl::StrCat("ledger log, partition ", partition, ", offset ",
                                            r.offset, ": event does not parse"));
  if (e->body_case() == pb::Event::BODY_NOT_SET)
    return absl::DataLossError(
        absl::StrCat("ledger log, partition ", partition, ", offset ", r.offset,
                     ": unknown event type (written by a newer engine?); refusing to skip it"));
  return absl::OkStatus();
}

absl::Status DecodeCommand(const LogRecord& r, int partition, pb::Command* c) {
  if (!c->ParseFromString(r.value))
    return absl::DataLossError(absl::StrCat("commands log, partition ", partition, ", offset ",
                                            r.offset, ": command does not parse"));
  if (c->body_case() == pb::Command::BODY_NOT_SET)
    return absl::DataLossError(
        absl::StrCat("commands log, partition ", partition, ", offset ", r.offset,
                     ": unknown command type (written by a newer api?); refusing to skip it"));
  return absl::OkStatus();
}

}  // namespace tl
