#include "engine/log/decode.h"

#include "absl/strings/str_cat.h"
#include "engine/core/names.h"

namespace tl {
namespace {

// One record of `log` into `m` (an Event or a Command): it parses, and its
// type is one this build knows (`kind`, `writer` name them in the error).
template <typename Message>
absl::Status Decode(const LogRecord& r, int partition, const char* log, const char* kind,
                    const char* writer, Message* m) {
  if (!m->ParseFromString(r.value))
    return absl::DataLossError(absl::StrCat(log, " log, partition ", partition, ", offset ",
                                            r.offset, ": ", kind, " does not parse"));
  if (m->body_case() == Message::BODY_NOT_SET)
    return absl::DataLossError(absl::StrCat(log, " log, partition ", partition, ", offset ",
                                            r.offset, ": unknown ", kind, " type (written by a ",
                                            writer, "?); refusing to skip it"));
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeEvent(const LogRecord& r, int partition, pb::Event* e) {
  return Decode(r, partition, kLedgerLog, "event", "newer engine", e);
}

absl::Status DecodeCommand(const LogRecord& r, int partition, pb::Command* c) {
  return Decode(r, partition, kCommandsLog, "command", "newer api", c);
}

}  // namespace tl
