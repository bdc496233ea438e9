// LedgerReader: the one way to read a partition of the ledger (engine
// recovery, the follower, the projector, audit, rebuild, ticketctl inspect).
//
// The policy, the same for every reader (also in LOG_FORMAT.md):
// - A reader hands out the *distinct* events of a partition, in sequence
//   order: sequences 1, 2, 3, ... each exactly once, decoded.
// - A record whose sequence was already handed out (a producer retry, a
//   zombie writer, a torn answer written again) must be byte-identical to
//   the first record with that sequence; it is then dropped. Different bytes
//   are DATA_LOSS ("a different record at sequence S"), never a silent drop.
// - A sequence beyond the next expected one is a gap: DATA_LOSS.
// - A record that does not decode is DATA_LOSS (DecodeEvent), never skipped.
// Every error names the partition, the offset and the sequence. Nothing is
// handed out past an error; a DATA_LOSS sticks (the reader stays failed),
// while an error of the log itself (unavailable, timed out) may be retried
// by calling Next again.
//
// A repeat is compared with its first record: from the current batch when
// it is there, else read back from the log at the offset an in-memory index
// of runs (sequence -> offset) names, else -- for a sequence handed out
// before this reader started or before the index's window -- found by
// scanning forward from offset sequence-1 (a sequence's first record is
// never earlier). Repeats are rare, so nothing is hashed per record.
//
// Read-ahead (ReadAhead, for readers that go through a long stretch:
// recovery, audit, rebuild, inspect): a second thread owned by the reader
// reads and decodes the next batches -- at most a fixed number in flight --
// while the caller works on the one Next handed out. Nothing else changes:
// the same batches in the same order, the same policy, each error where it
// would have come without read-ahead (after the batches before it), and the
// thread stops with the reader (an early stop waits only for the batch being
// read).
//
// Not thread-safe: one reader per partition and thread (the read-ahead
// thread is the reader's own).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "engine/core/schema.h"
#include "engine/log/event_log.h"

namespace tl {

// Where a reader starts: the next ledger offset to read and the sequence
// expected next. {0, 1} is the start of a partition.
struct LedgerPosition {
  uint64_t offset = 0;
  uint64_t next_sequence = 1;
};

// One batch of distinct events: events[i] was decoded from records[i].
struct LedgerBatch {
  std::vector<LogRecord> records;
  std::vector<pb::Event> events;
  size_t read = 0;  // ledger records consumed, repeats included (0: nothing more yet)
  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }
};

class LedgerReader {
 public:
  static constexpr uint64_t kNoEnd = std::numeric_limits<uint64_t>::max();

  LedgerReader(EventLog* ledger, int partition, LedgerPosition from = {},
               size_t batch_records = 8192);
  ~LedgerReader();  // stops the read-ahead thread, if any
  LedgerReader(const LedgerReader&) = delete;
  LedgerReader& operator=(const LedgerReader&) = delete;

  // From now on a second thread reads and decodes up to `batches` batches
  // (none at or past `end`) ahead of the caller. Call before the first Next;
  // every Next must then pass `end` or nothing. After the end of what is
  // there (read 0) or an error has been handed out, the next call to Next
  // reads again, as without read-ahead. `batches` 0: no read-ahead.
  void ReadAhead(size_t batches, uint64_t end = kNoEnd);

  // Reads the next records (at most batch_records, none at or past `end`)
  // into `out` (replaced; its buffers are reused). At the end of what is
  // there, `out->read` is 0.
  absl::Status Next(LedgerBatch* out, uint64_t end = kNoEnd);

  // After the records handed out so far.
  const LedgerPosition& position() const { return handed_; }
  int partition() const { return partition_; }

  // Whether `st` is a sequence error of this policy (a gap, or a different
  // record at a sequence already read), as opposed to a record that does
  // not decode or a log that fails.
  static bool IsSequenceError(const absl::Status& st);

 private:
  struct Ahead;  // the read-ahead thread and its queue of batches
  struct Run {   // sequences first_seq.. were read from offsets first_offset..
    uint64_t first_seq;
    uint64_t first_offset;
  };
  // The next batch under the policy, on the thread that reads: the caller's
  // (no read-ahead) or the read-ahead thread.
  absl::Status Read(LedgerBatch* out, uint64_t end);
  // The read-ahead thread's loop.
  void ReadAheadLoop();
  // Checks a repeat of `seq` at `r` against the first record of `seq`.
  absl::Status CheckRepeat(const LogRecord& r, uint64_t seq, const LedgerBatch& batch,
                           uint64_t batch_first_seq);
  // The first record holding `seq`, read from the log.
  absl::Status FindFirst(uint64_t seq, uint64_t at, LogRecord* out);
  void Index(uint64_t seq, uint64_t offset);

  EventLog* const ledger_;
  const int partition_;
  const size_t batch_records_;
  // The reading side's state (the read-ahead thread's while it runs).
  LedgerPosition position_;
  absl::Status failed_;  // a DATA_LOSS met: returned from then on
  std::vector<LogRecord> lookup_;
  std::vector<Run> runs_;  // by first_seq; runs_.back() extends to position_.next_sequence
  uint64_t last_offset_ = 0;
  pb::Event scratch_;
  // The caller's side.
  LedgerPosition handed_;         // after the batches handed out
  std::unique_ptr<Ahead> ahead_;  // null: no read-ahead
};

}  // namespace tl
