// Ledger event decoding in the ledger reader (engine/log/ledger_reader.h):
// a partition of the ledger made of outside bytes, read as recovery, the
// follower, the projector and the audit read it. The input is one chunk in
// the embedded log's format (record_frame.h; its checksum is made right here)
// after a byte of reading options; its records are the partition.
//
// Checked against a model of the policy in ledger_reader.h: the reader hands
// out exactly the distinct events 1, 2, 3, ... the model does, each equal to
// its record decoded, and fails (DATA_LOSS, which sticks) exactly where the
// model does. A reader resumed from any position a reader reported hands out
// the same rest (what recovery from a checkpoint relies on).
#include <zlib.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/internal/endian.h"
#include "engine/log/decode.h"
#include "engine/log/ledger_reader.h"
#include "engine/log/record_frame.h"
#include "fuzz_check.h"
#include "memory_log.h"
#include "quiet_protobuf.h"

namespace {

struct Outcome {
  std::vector<std::string> values;            // the records of the events handed out, in order
  std::vector<tl::LedgerPosition> positions;  // after each batch
  bool failed = false;
};

// The policy, written plainly: one record at a time.
Outcome Model(const std::vector<tl::LogRecord>& records, tl::LedgerPosition from) {
  Outcome o;
  std::map<uint64_t, std::string> first;  // sequence -> its first record
  for (const auto& r : records) {         // what lies before `from` counts for repeats
    if (r.offset >= from.offset) break;
    tl::pb::Event e;
    if (!tl::DecodeEvent(r, 0, &e).ok()) continue;
    first.emplace(e.sequence(), r.value);
  }
  uint64_t next = from.next_sequence;
  for (const auto& r : records) {
    if (r.offset < from.offset) continue;
    tl::pb::Event e;
    if (!tl::DecodeEvent(r, 0, &e).ok()) return o.failed = true, o;
    if (e.sequence() == next) {
      first.emplace(next, r.value);
      o.values.push_back(r.value);
      ++next;
      continue;
    }
    if (e.sequence() > next || e.sequence() == 0) return o.failed = true, o;
    // A repeat: the first record of that sequence at or after offset
    // sequence-1, byte-identical.
    auto it = first.find(e.sequence());
    if (it == first.end() || it->second != r.value) return o.failed = true, o;
  }
  return o;
}

Outcome Read(tl::EventLog* log, tl::LedgerPosition from, size_t batch, bool ahead) {
  Outcome o;
  tl::LedgerReader reader(log, 0, from, batch);
  if (ahead) reader.ReadAhead(2);
  tl::LedgerBatch b;
  for (int calls = 0;; ++calls) {
    FUZZ_CHECK(calls < 100000);
    absl::Status st = reader.Next(&b);
    if (!st.ok()) {
      FUZZ_CHECK(absl::IsDataLoss(st));
      tl::LedgerBatch again;
      FUZZ_CHECK(reader.Next(&again) == st);  // a DATA_LOSS sticks
      o.failed = true;
      return o;
    }
    if (b.read == 0) return o;
    FUZZ_CHECK(b.events.size() == b.records.size());
    for (size_t i = 0; i < b.size(); ++i) {
      tl::pb::Event decoded;
      FUZZ_CHECK(tl::DecodeEvent(b.records[i], 0, &decoded).ok());
      FUZZ_CHECK(decoded.SerializeAsString() == b.events[i].SerializeAsString());
      FUZZ_CHECK(b.events[i].sequence() == from.next_sequence + o.values.size());
      o.values.push_back(b.records[i].value);
    }
    o.positions.push_back(reader.position());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + tl::kChunkHeaderBytes) return 0;
  const uint8_t options = data[0];
  std::string raw(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::little_endian::Store32(
      raw.data() + 1, static_cast<uint32_t>(crc32_z(
                          0, reinterpret_cast<const Bytef*>(raw.data() + 5), raw.size() - 5)));
  std::vector<tl::LogRecord> records;
  size_t used = 0;
  uint32_t count = 0;
  if (!tl::DecodeChunk(raw, "ledger", 0, 0, 0, UINT64_MAX, &records, &used, &count).ok()) return 0;
  tl::fuzz::MemoryLog log(records);

  const size_t batch = 1 + (options & 7);
  const bool ahead = (options & 8) != 0;
  const Outcome model = Model(records, {});
  const Outcome read = Read(&log, {}, batch, ahead);
  FUZZ_CHECK(read.failed == model.failed);
  FUZZ_CHECK(read.values == model.values);

  // Resumed where the reader stood after one of its batches.
  if (!read.positions.empty()) {
    const tl::LedgerPosition at = read.positions[(options >> 4) % read.positions.size()];
    const Outcome rest = Read(&log, at, 1 + (options >> 4), false);
    const Outcome rest_model = Model(records, at);
    FUZZ_CHECK(rest.failed == rest_model.failed && rest.values == rest_model.values);
    FUZZ_CHECK(rest.failed == read.failed);
    const size_t before = at.next_sequence - 1;
    FUZZ_CHECK(before + rest.values.size() == read.values.size());
    for (size_t i = 0; i < rest.values.size(); ++i)
      FUZZ_CHECK(rest.values[i] == read.values[before + i]);
  }

  return 0;
}
