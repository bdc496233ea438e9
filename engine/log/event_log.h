// EventLog: the one interface both log backends implement (embedded RocksDB
// here; Kafka later). A log is a fixed number of partitions; each partition is
// a gapless sequence of records numbered from offset 0. A record is a key (the
// campaign id, which also chooses the partition) and an opaque value (protobuf
// bytes).
//
// Contract:
// - Append returns only when the records are durable (embedded: the RocksDB
//   WAL is fsynced; Kafka: acks=all delivery reports). Records of one Append
//   land contiguously and atomically, in order. Concurrent appenders are
//   batched into one sync (group commit). An error means nothing of that call
//   is acknowledged; the caller may retry.
// - Read returns records in offset order starting at `from`, never past the
//   durable end. A damaged record is an error naming the log, partition and
//   offset, never a silent skip.
// - All methods are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tl {

struct LogRecord {
  uint64_t offset = 0;  // set by Read; ignored by Append
  std::string key;
  std::string value;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  virtual int partitions() const = 0;
  // Appends `records` to `partition`; returns the offset of the first once
  // durable.
  virtual absl::StatusOr<uint64_t> Append(int partition, std::vector<LogRecord> records) = 0;
  // Append for the engine: the records answer the commands of `partition`
  // before `commands_end`. A log that can record that atomically with the
  // records (Kafka: the consumed offsets committed in the same transaction)
  // does; the ledger itself remains the truth either way.
  virtual absl::StatusOr<uint64_t> AppendAnswering(int partition, std::vector<LogRecord> records,
                                                   uint64_t commands_end) {
    (void)commands_end;
    return Append(partition, std::move(records));
  }
  // Reads up to `max_records` records from `from` into `out` (cleared first).
  // It may return fewer while more are there (the embedded log stops at a
  // chunk boundary rather than cut a chunk short).
  virtual absl::Status Read(int partition, uint64_t from, size_t max_records,
                            std::vector<LogRecord>* out) = 0;
  // The offset the next appended record will get (= number of records).
  virtual absl::StatusOr<uint64_t> EndOffset(int partition) = 0;
  // Blocks until EndOffset(partition) > offset or the timeout passes; returns
  // whether data is there.
  virtual bool WaitForData(int partition, uint64_t offset, absl::Duration timeout) = 0;
};

// The partition a campaign's records go to: murmur2(key) as the Java Kafka
// client computes it, so any Kafka producer agrees with us.
int PartitionFor(std::string_view key, int partitions);

}  // namespace tl
