// The commands log into the engine (engine/runtime/engine.cc): records of the
// commands log -- outside input in the split deployment, where anything that
// can write the Kafka topic writes them -- decoded (DecodeCommand) and
// decided and folded in order by the engine's one step (DecideAndFold). A
// record that does not decode is DATA_LOSS; a command the engine refuses is a
// Status, never a crash; after every step each campaign's invariants hold;
// and the same commands decided again on a fresh state give the same events,
// byte for byte (no clock, no randomness, no unordered iteration).
//
// The input is a byte of options (reserved), then the records as one chunk
// in the embedded log's format (record_frame.h; its checksum is made right
// here).
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/internal/endian.h"
#include "engine/core/fold.h"
#include "engine/core/step.h"
#include "engine/log/decode.h"
#include "engine/log/record_frame.h"
#include "fuzz_check.h"
#include "quiet_protobuf.h"

namespace {

constexpr size_t kCommandsMax = 256;

std::string Run(const std::vector<tl::LogRecord>& records) {
  tl::EngineState state;
  tl::EngineConfig config;
  config.seed_secret = "fuzz-seed-secret-0123456789abcdef";
  const tl::Limits limits;
  tl::EventList events;
  std::string written;
  for (const tl::LogRecord& r : records) {
    tl::pb::Command cmd;
    if (absl::Status st = tl::DecodeCommand(r, 0, &cmd); !st.ok()) {
      FUZZ_CHECK(absl::IsDataLoss(st));
      break;  // the engine stops at a record it cannot decode
    }
    absl::Status st = tl::DecideAndFold(&state, config, limits, cmd, r.offset, &events,
                                        [&](const tl::pb::Event&, std::string&& bytes) {
                                          written += bytes;
                                          written += '\n';
                                          return absl::OkStatus();
                                        });
    if (!st.ok()) {
      written += "error: ";
      written += st.ToString();
      break;  // the engine stops with the error
    }
    for (const auto& [id, c] : state.campaigns) {
      absl::Status inv = tl::CheckInvariants(*c);
      if (!inv.ok()) {
        std::fprintf(stderr, "invariant: %s\n", inv.ToString().c_str());
        FUZZ_CHECK(inv.ok());
      }
    }
  }
  return written;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + tl::kChunkHeaderBytes) return 0;
  std::string raw(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::little_endian::Store32(
      raw.data() + 1, static_cast<uint32_t>(crc32_z(
                          0, reinterpret_cast<const Bytef*>(raw.data() + 5), raw.size() - 5)));
  std::vector<tl::LogRecord> records;
  size_t used = 0;
  uint32_t count = 0;
  if (!tl::DecodeChunk(raw, "commands", 0, 0, 0, kCommandsMax, &records, &used, &count).ok())
    return 0;
  records.resize(used);
  FUZZ_CHECK(Run(records) == Run(records));
  return 0;
}
