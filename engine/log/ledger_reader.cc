#include "engine/log/ledger_reader.h"

#include <algorithm>
#include <deque>
#include <thread>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/check.h"
#include "engine/log/decode.h"

namespace tl {

namespace {

constexpr char kSequencePayload[] = "type.ticketledger/ledger-sequence";
// Runs kept in the index; older ones are found by scanning (one run per
// repeat or offset gap, so this is rarely reached).
constexpr size_t kMaxRuns = 1 << 16;

absl::Status SequenceError(std::string message) {
  absl::Status st = absl::DataLossError(message);
  st.SetPayload(kSequencePayload, absl::Cord("1"));
  return st;
}

}  // namespace

LedgerReader::LedgerReader(EventLog* ledger, int partition, LedgerPosition from,
                           size_t batch_records)
    : ledger_(ledger),
      partition_(partition),
      batch_records_(std::max<size_t>(batch_records, 1)),
      position_(from),
      handed_(from) {}

struct LedgerReader::Ahead {
  struct Slot {
    LedgerBatch batch;
    absl::Status status;
    LedgerPosition after;  // the reading side's position after this batch
  };
  Ahead(size_t b, uint64_t e) : batches(b), end(e) {}
  const size_t batches;
  const uint64_t end;
  absl::Mutex mu;
  std::deque<std::unique_ptr<Slot>> ready ABSL_GUARDED_BY(mu);   // read, in order
  std::vector<std::unique_ptr<Slot>> spare ABSL_GUARDED_BY(mu);  // handed back for reuse
  // After an error or the end of what is there: nothing more is read until
  // the caller has taken it and asks again.
  bool paused ABSL_GUARDED_BY(mu) = false;
  bool stop ABSL_GUARDED_BY(mu) = false;
  std::thread thread;
};

LedgerReader::~LedgerReader() {
  if (!ahead_) return;
  {
    absl::MutexLock lock(&ahead_->mu);
    ahead_->stop = true;
  }
  ahead_->thread.join();
}

void LedgerReader::ReadAhead(size_t batches, uint64_t end) {
  TL_CHECK(ahead_ == nullptr);
  if (batches == 0) return;
  ahead_ = std::make_unique<Ahead>(batches, end);
  ahead_->thread = std::thread([this] { ReadAheadLoop(); });
}

void LedgerReader::ReadAheadLoop() {
  Ahead& a = *ahead_;
  for (;;) {
    std::unique_ptr<Ahead::Slot> slot;
    {
      absl::MutexLock lock(&a.mu);
      auto room = [&a]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(a.mu) {
        return a.stop || (!a.paused && a.ready.size() < a.batches);
      };
      a.mu.Await(absl::Condition(&room));
      if (a.stop) return;
      if (!a.spare.empty()) {
        slot = std::move(a.spare.back());
        a.spare.pop_back();
      }
    }
    if (!slot) slot = std::make_unique<Ahead::Slot>();
    slot->status = Read(&slot->batch, a.end);
    slot->after = position_;
    absl::MutexLock lock(&a.mu);
    a.paused = !slot->status.ok() || slot->batch.read == 0;
    a.ready.push_back(std::move(slot));
  }
}

absl::Status LedgerReader::Next(LedgerBatch* out, uint64_t end) {
  if (!ahead_) {
    absl::Status st = Read(out, end);
    handed_ = position_;
    return st;
  }
  Ahead& a = *ahead_;
  TL_CHECK(end == kNoEnd || end == a.end);
  std::unique_ptr<Ahead::Slot> slot;
  {
    absl::MutexLock lock(&a.mu);
    if (a.ready.empty() && a.paused) a.paused = false;  // asked again: read on
    auto have = [&a]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(a.mu) { return !a.ready.empty(); };
    a.mu.Await(absl::Condition(&have));
    slot = std::move(a.ready.front());
    a.ready.pop_front();
  }
  std::swap(*out, slot->batch);  // the caller's old buffers go back for reuse
  handed_ = slot->after;
  absl::Status st = std::move(slot->status);
  absl::MutexLock lock(&a.mu);
  a.spare.push_back(std::move(slot));
  return st;
}

bool LedgerReader::IsSequenceError(const absl::Status& st) {
  return absl::IsDataLoss(st) && st.GetPayload(kSequencePayload).has_value();
}

void LedgerReader::Index(uint64_t seq, uint64_t offset) {
  if (runs_.empty() || offset != last_offset_ + 1) {
    if (runs_.size() >= kMaxRuns) runs_.erase(runs_.begin(), runs_.begin() + kMaxRuns / 2);
    runs_.push_back(Run{seq, offset});
  }
  last_offset_ = offset;
}

absl::Status LedgerReader::FindFirst(uint64_t seq, uint64_t at, LogRecord* out) {
  // Indexed: read the one record back.
  if (!runs_.empty() && seq >= runs_.front().first_seq) {
    auto run = std::upper_bound(runs_.begin(), runs_.end(), seq,
                                [](uint64_t s, const Run& r) { return s < r.first_seq; });
    --run;
    const uint64_t offset = run->first_offset + (seq - run->first_seq);
    if (absl::Status st = ledger_->Read(partition_, offset, 1, &lookup_); !st.ok()) return st;
    if (lookup_.empty() || lookup_[0].offset != offset)
      return absl::DataLossError(absl::StrCat("ledger partition ", partition_, " offset ", offset,
                                              ": record missing (sequence ", seq,
                                              " was read there)"));
    *out = std::move(lookup_[0]);
    return absl::OkStatus();
  }
  // Read before this reader started (or before the index's window): the
  // first record with `seq` lies in [seq - 1, floor).
  const uint64_t floor = runs_.empty() ? position_.offset : runs_.front().first_offset;
  for (uint64_t from = seq - 1; from < floor;) {
    if (absl::Status st = ledger_->Read(partition_, from,
                                        std::min<uint64_t>(batch_records_, floor - from), &lookup_);
        !st.ok())
      return st;
    if (lookup_.empty()) break;
    for (LogRecord& r : lookup_) {
      if (r.offset >= floor) break;
      if (absl::Status st = DecodeEvent(r, partition_, &scratch_); !st.ok()) return st;
      if (scratch_.sequence() == seq) {
        *out = std::move(r);
        return absl::OkStatus();
      }
    }
    from = lookup_.back().offset + 1;
  }
  return SequenceError(absl::StrCat("ledger partition ", partition_, " offset ", at, ": sequence ",
                                    seq,
                                    " again, but no earlier record holds it (a forged or "
                                    "corrupt ledger)"));
}

absl::Status LedgerReader::CheckRepeat(const LogRecord& r, uint64_t seq, const LedgerBatch& batch,
                                       uint64_t batch_first_seq) {
  if (seq == 0)
    return SequenceError(absl::StrCat("ledger partition ", partition_, " offset ", r.offset,
                                      ": sequence 0 (sequences start at 1)"));
  const LogRecord* first = nullptr;
  LogRecord found;
  if (seq >= batch_first_seq) {
    first = &batch.records[seq - batch_first_seq];
  } else {
    if (absl::Status st = FindFirst(seq, r.offset, &found); !st.ok()) return st;
    first = &found;
  }
  if (first->value == r.value) return absl::OkStatus();
  return SequenceError(absl::StrCat(
      "ledger partition ", partition_, " offset ", r.offset, ": a different record at sequence ",
      seq, ", which was already read at offset ", first->offset, " (a forged or corrupt ledger)"));
}

absl::Status LedgerReader::Read(LedgerBatch* out, uint64_t end) {
  out->records.clear();
  out->read = 0;
  if (!failed_.ok()) {
    out->events.clear();
    return failed_;
  }
  if (position_.offset < end) {
    const uint64_t want = std::min<uint64_t>(batch_records_, end - position_.offset);
    if (absl::Status st = ledger_->Read(partition_, position_.offset, want, &out->records);
        !st.ok()) {
      out->records.clear();
      out->events.clear();
      if (absl::IsDataLoss(st)) failed_ = st;
      return st;
    }
  }
  std::vector<LogRecord>& records = out->records;
  while (!records.empty() && records.back().offset >= end) records.pop_back();
  if (out->events.size() < records.size()) out->events.resize(records.size());
  const uint64_t batch_first_seq = position_.next_sequence;
  uint64_t next_seq = position_.next_sequence;
  size_t kept = 0, consumed = 0;
  absl::Status st;
  for (; consumed < records.size(); ++consumed) {
    LogRecord& r = records[consumed];
    pb::Event& e = out->events[kept];
    st = DecodeEvent(r, partition_, &e);
    if (!st.ok()) break;
    if (e.sequence() < next_seq) {  // a repeat: the same bytes, or data loss
      st = CheckRepeat(r, e.sequence(), *out, batch_first_seq);
      if (!st.ok()) break;
      position_.offset = r.offset + 1;
      continue;
    }
    if (e.sequence() > next_seq) {
      st = SequenceError(absl::StrCat("ledger partition ", partition_, " offset ", r.offset,
                                      ": sequence ", e.sequence(), " where ", next_seq,
                                      " was expected (sequences ", next_seq, "..", e.sequence() - 1,
                                      " are missing)"));
      break;
    }
    Index(next_seq, r.offset);
    position_.offset = r.offset + 1;
    if (kept != consumed) records[kept] = std::move(r);
    ++kept;
    ++next_seq;
  }
  // Everything before a bad record is handed out; the error comes next time
  // (at once if there is nothing before it). A log that failed while a
  // repeat was checked against its first record (Unavailable, a timeout) is
  // no verdict on the ledger: the same record is read again next time.
  if (!st.ok()) {
    if (absl::IsDataLoss(st)) failed_ = st;
    if (consumed == 0) {
      records.clear();
      out->events.clear();
      return st;
    }
  }
  out->read = consumed;
  records.resize(kept);
  out->events.resize(kept);
  position_.next_sequence = next_seq;
  return absl::OkStatus();
}

}  // namespace tl
