// One log record's value decoded as the readers decode it (engine/log/decode.h):
// a ledger event and a command (the commands log is outside input in the
// split deployment: anything that can write the Kafka topic). A value that
// does not parse, or whose type is unknown, is DATA_LOSS naming the log and
// offset; one that decodes re-encodes (deterministically, as the ledger holds
// it) to bytes that decode to the same message, and an event's export line
// (the hand-written ExportLine) is byte for byte protobuf's.
#include <cstdint>
#include <string>

#include "engine/core/step.h"
#include "engine/log/decode.h"
#include "engine/log/ledger_export.h"
#include "fuzz_check.h"
#include "quiet_protobuf.h"

namespace {

template <typename Message>
void RoundTrip(const Message& m) {
  const std::string bytes = tl::EncodeDeterministic(m);
  Message again;
  FUZZ_CHECK(again.ParseFromString(bytes));
  FUZZ_CHECK(tl::EncodeDeterministic(again) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tl::LogRecord r{42, "campaign", std::string(reinterpret_cast<const char*>(data), size)};
  tl::pb::Event e;
  if (absl::Status st = tl::DecodeEvent(r, 5, &e); st.ok()) {
    RoundTrip(e);
    FUZZ_CHECK(tl::ExportLine(e) == tl::ExportLineReference(e));
  } else {
    FUZZ_CHECK(absl::IsDataLoss(st));
    FUZZ_CHECK(st.message().find("ledger log, partition 5, offset 42: ") == 0);
  }
  tl::pb::Command c;
  if (absl::Status st = tl::DecodeCommand(r, 5, &c); st.ok()) {
    RoundTrip(c);
  } else {
    FUZZ_CHECK(absl::IsDataLoss(st));
    FUZZ_CHECK(st.message().find("commands log, partition 5, offset 42: ") == 0);
  }
  return 0;
}
