#include "engine/log/command_log.h"

#include <openssl/rand.h>

#include "engine/log/decode.h"

namespace tl {

absl::StatusOr<std::string> NewSeedNonce() {
  std::string nonce(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1)
    return absl::UnavailableError("no random bytes for the campaign's seed nonce (RAND_bytes)");
  return nonce;
}

absl::StatusOr<CommandPosition> AppendCommand(EventLog* commands, const pb::Command& command) {
  CommandPosition pos;
  pos.partition = PartitionFor(command.campaign_id(), commands->partitions());
  absl::StatusOr<uint64_t> offset = commands->Append(
      pos.partition, {LogRecord{0, command.campaign_id(), command.SerializeAsString()}});
  if (!offset.ok()) return offset.status();
  pos.offset = *offset;
  return pos;
}

absl::Status EventsForCommand(EventLog* ledger, int partition, uint64_t command_offset,
                              std::vector<pb::Event>* out) {
  out->clear();
  absl::StatusOr<uint64_t> end = ledger->EndOffset(partition);
  if (!end.ok()) return end.status();
  std::vector<LogRecord> recs;
  pb::Event e;
  auto command_at = [&](uint64_t offset) -> absl::StatusOr<uint64_t> {
    if (absl::Status st = ledger->Read(partition, offset, 1, &recs); !st.ok()) return st;
    if (recs.empty()) return absl::OutOfRangeError("past the end");
    if (absl::Status st = DecodeEvent(recs[0], partition, &e); !st.ok()) return st;
    return e.command_offset();
  };
  // First ledger offset whose command_offset >= command_offset.
  uint64_t lo = 0, hi = *end;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<uint64_t> c = command_at(mid);
    if (!c.ok()) return c.status();
    if (*c < command_offset) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  for (uint64_t at = lo; at < *end; at += recs.size()) {
    if (absl::Status st = ledger->Read(partition, at, 256, &recs); !st.ok()) return st;
    for (const LogRecord& r : recs) {
      if (absl::Status st = DecodeEvent(r, partition, &e); !st.ok()) return st;
      if (e.command_offset() != command_offset) return absl::OkStatus();
      out->push_back(e);
    }
    if (recs.empty()) break;
  }
  return absl::OkStatus();
}

}  // namespace tl
