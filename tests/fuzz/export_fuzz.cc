// The ledger export format (schemas/EXPORT.md): NDJSON, one event per line in
// the protobuf JSON mapping, as GET /v1/campaigns/{id}/ledger and `ticketctl
// export` write it and a verifier reads it back (protobuf's JSON parser, as
// tests/e2e/export_test.cc reads it). Each line of the input is read as an
// event; a line that reads is written again with ExportLine, which must be
// byte for byte protobuf's own line (ExportLineReference), read back to the
// same event, and be its own fixed point (the canonical line).
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/core/step.h"
#include "engine/log/ledger_export.h"
#include "fuzz_check.h"
#include "quiet_protobuf.h"

namespace {

constexpr size_t kLinesMax = 16;

void Line(absl::string_view line) {
  google::protobuf::util::JsonParseOptions strict;  // unknown fields refused
  tl::pb::Event e;
  if (!google::protobuf::util::JsonStringToMessage(std::string(line), &e, strict).ok()) return;
  const std::string out = tl::ExportLine(e);
  FUZZ_CHECK(out == tl::ExportLineReference(e));
  FUZZ_CHECK(out.find('\n') == std::string::npos);  // one line per event
  tl::pb::Event back;
  FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(out, &back, strict).ok());
  FUZZ_CHECK(tl::EncodeDeterministic(back) == tl::EncodeDeterministic(e));
  FUZZ_CHECK(tl::ExportLine(back) == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (size_t n = 0; !text.empty() && n < kLinesMax; ++n) {
    const size_t eol = text.find('\n');
    Line(text.substr(0, eol));
    if (eol == absl::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return 0;
}
