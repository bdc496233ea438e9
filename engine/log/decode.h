// Decoding a log record into a command or a ledger event: a record that does
// not parse, or whose type this build does not know, is DATA_LOSS naming the
// log, partition and offset (never skipped).
#pragma once

#include "absl/status/status.h"
#include "engine/core/schema.h"
#include "engine/log/event_log.h"

namespace tl {

absl::Status DecodeEvent(const LogRecord& r, int partition, pb::Event* e);
absl::Status DecodeCommand(const LogRecord& r, int partition, pb::Command* c);

}  // namespace tl
