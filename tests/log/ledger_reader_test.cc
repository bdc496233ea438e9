// LedgerReader's policy against a real embedded ledger: distinct events in
// sequence order; an identical repeat dropped wherever its first record is
// (same batch, an earlier batch, before the reader started); a different
// repeat or a gap is DATA_LOSS naming partition, offset and sequence -- each
// policy test runs without read-ahead and with it (1 and 3 batches ahead),
// and must hand out the same. Then read-ahead on its own: order over many
// batches, a bounded number of reads ahead, a log error in the middle handed
// out in order and read past when asked again, more records after the end,
// an early stop. Also the capped backoff and the partition worker scaffold.
#include "engine/log/ledger_reader.h"

#include <gtest/gtest.h>

#include <atomic>

#include "engine/log/backoff.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/log/partition_worker.h"
#include "tests/support/temp_dir.h"

namespace tl {
namespace {

LogRecord Ev(uint64_t seq, const std::string& user = "u") {
  pb::Event e;
  e.set_sequence(seq);
  e.set_campaign_id("c");
  e.mutable_queue_entered()->set_user_id(user + std::to_string(seq));
  e.mutable_queue_entered()->set_position(seq);
  return LogRecord{0, "c", e.SerializeAsString()};
}

// A ledger that counts reads and fails the ones it is told to
// (Unavailable, as a log that went away would).
class CountingLog final : public EventLog {
 public:
  explicit CountingLog(EventLog* log) : log_(log) {}
  int partitions() const override { return log_->partitions(); }
  absl::StatusOr<uint64_t> Append(int p, std::vector<LogRecord> r) override {
    return log_->Append(p, std::move(r));
  }
  absl::Status Read(int p, uint64_t from, size_t max, std::vector<LogRecord>* out) override {
    const int n = ++reads;
    if (n == fail_read) return absl::UnavailableError("log away");
    if (max == 1 && fail_lookups > 0) {
      --fail_lookups;
      return absl::UnavailableError("log away during a lookup");
    }
    return log_->Read(p, from, max, out);
  }
  absl::StatusOr<uint64_t> EndOffset(int p) override { return log_->EndOffset(p); }
  bool WaitForData(int p, uint64_t offset, absl::Duration timeout) override {
    return log_->WaitForData(p, offset, timeout);
  }
  std::atomic<int> reads{0};
  std::atomic<int> fail_read{0};  // the read (1-based) that fails; 0: none
  // Reads of one record (a repeat's lookup of its first record) that fail.
  std::atomic<int> fail_lookups{0};

 private:
  EventLog* log_;
};

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = EmbeddedLogDb::Open(dir_.path(), 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  EventLog* ledger() { return db_->ledger(); }
  // Appends one record per sequence in `seqs` to partition 1 (a repeat gets
  // the same bytes unless `user` differs).
  void Append(std::initializer_list<uint64_t> seqs, const std::string& user = "u") {
    std::vector<LogRecord> recs;
    for (uint64_t s : seqs) recs.push_back(Ev(s, user));
    ASSERT_TRUE(ledger()->Append(1, std::move(recs)).ok());
  }
  // Reads everything from `from` in batches of `batch`; the sequences handed
  // out, and the error that ended the reading (OK at the end).
  absl::Status ReadAll(LedgerPosition from, size_t batch, std::vector<uint64_t>* seqs,
                       uint64_t end = UINT64_MAX, LedgerPosition* at = nullptr) {
    LedgerReader reader(ledger(), 1, from, batch);
    reader.ReadAhead(ahead_, end);
    LedgerBatch b;
    absl::Status st;
    for (;;) {
      st = reader.Next(&b, end);
      if (!st.ok() || b.read == 0) break;
      EXPECT_LE(b.read, batch);
      EXPECT_EQ(b.records.size(), b.events.size());
      for (size_t i = 0; i < b.size(); ++i) {
        EXPECT_EQ(b.records[i].value, b.events[i].SerializeAsString());
        seqs->push_back(b.events[i].sequence());
      }
    }
    if (at != nullptr) *at = reader.position();
    return st;
  }
  static std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> v;
    for (uint64_t s = from; s <= to; ++s) v.push_back(s);
    return v;
  }

  testing::TempDir dir_;
  std::unique_ptr<EmbeddedLogDb> db_;
  size_t ahead_ = 0;  // batches ReadAll reads ahead
};

// The policy, read with GetParam() batches read ahead.
class LedgerReaderTest : public LedgerTest, public ::testing::WithParamInterface<size_t> {
 protected:
  void SetUp() override {
    LedgerTest::SetUp();
    ahead_ = GetParam();
  }
};

TEST_P(LedgerReaderTest, IdenticalRepeatsAreDroppedAcrossBatchBoundaries) {
  // Repeats in the same append, in a later append, and long after.
  Append({1, 2, 3, 2, 3, 4});
  Append({4, 5, 6});
  Append({1, 7, 8, 9, 5});
  for (size_t batch : {1, 2, 3, 4, 5, 100}) {
    std::vector<uint64_t> seqs;
    LedgerPosition at;
    ASSERT_TRUE(ReadAll({}, batch, &seqs, UINT64_MAX, &at).ok()) << batch;
    EXPECT_EQ(seqs, Range(1, 9)) << batch;
    EXPECT_EQ(at.offset, 14u);
    EXPECT_EQ(at.next_sequence, 10u);
  }
}

TEST_P(LedgerReaderTest, RepeatOfASequenceReadBeforeTheReaderStartedIsComparedToo) {
  Append({1, 2, 3, 4});
  Append({2, 5});  // offsets 4, 5
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(ReadAll({4, 5}, 2, &seqs).ok());  // starts after sequence 4
  EXPECT_EQ(seqs, std::vector<uint64_t>{5});
  Append({3}, "forged");  // offset 6
  seqs.clear();
  absl::Status st = ReadAll({4, 5}, 2, &seqs);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_TRUE(LedgerReader::IsSequenceError(st));
  EXPECT_NE(st.message().find("ledger partition 1 offset 6: a different record at sequence 3, "
                              "which was already read at offset 2"),
            std::string_view::npos)
      << st;
}

TEST_P(LedgerReaderTest, DifferentRepeatIsDataLossAfterTheEventsBeforeIt) {
  Append({1, 2, 3, 4, 5});
  Append({6, 7});
  Append({6, 7, 8});
  Append({2}, "forged");  // offset 10: first read in an earlier batch
  for (size_t batch : {1, 3, 100}) {
    LedgerReader reader(ledger(), 1, {}, batch);
    reader.ReadAhead(GetParam());
    LedgerBatch b;
    std::vector<uint64_t> seqs;
    absl::Status st;
    while ((st = reader.Next(&b)).ok() && b.read > 0) {
      for (const pb::Event& e : b.events) seqs.push_back(e.sequence());
    }
    EXPECT_EQ(seqs, Range(1, 8)) << batch;  // everything before the forged record
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_TRUE(LedgerReader::IsSequenceError(st));
    EXPECT_NE(st.message().find("ledger partition 1 offset 10: a different record at sequence 2"),
              std::string_view::npos)
        << st;
    EXPECT_EQ(reader.position().offset, 10u);
    // It stays failed: nothing is handed out past it.
    EXPECT_EQ(reader.Next(&b), st);
    EXPECT_TRUE(b.empty());
  }
}

TEST_P(LedgerReaderTest, DifferentRepeatInTheSameBatch) {
  Append({1, 2, 3});
  Append({3}, "forged");
  std::vector<uint64_t> seqs;
  absl::Status st = ReadAll({}, 100, &seqs);
  EXPECT_EQ(seqs, Range(1, 3));
  EXPECT_NE(st.message().find("offset 3: a different record at sequence 3, which was already "
                              "read at offset 2"),
            std::string_view::npos)
      << st;
}

TEST_P(LedgerReaderTest, GapIsDataLoss) {
  Append({1, 2, 4, 5});
  for (size_t batch : {1, 2, 100}) {
    std::vector<uint64_t> seqs;
    absl::Status st = ReadAll({}, batch, &seqs);
    EXPECT_EQ(seqs, Range(1, 2));
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_TRUE(LedgerReader::IsSequenceError(st));
    EXPECT_NE(st.message().find("ledger partition 1 offset 2: sequence 4 where 3 was expected"),
              std::string_view::npos)
        << st;
  }
  // A reader that starts at a position the ledger does not continue.
  std::vector<uint64_t> seqs;
  EXPECT_TRUE(absl::IsDataLoss(ReadAll({0, 2}, 10, &seqs)));
}

TEST_P(LedgerReaderTest, RepeatWithNoEarlierRecordIsDataLoss) {
  Append({1, 2, 3});
  // Told that sequence 5 comes next at offset 2, it meets 3, which no
  // record before offset 2 holds.
  std::vector<uint64_t> seqs;
  absl::Status st = ReadAll({2, 5}, 10, &seqs);
  EXPECT_TRUE(LedgerReader::IsSequenceError(st)) << st;
  EXPECT_NE(st.message().find("offset 2: sequence 3 again, but no earlier record holds it"),
            std::string_view::npos)
      << st;
}

TEST_P(LedgerReaderTest, UndecodableRecordIsDataLossNotASequenceError) {
  Append({1});
  ASSERT_TRUE(ledger()->Append(1, {LogRecord{0, "c", "\xff\xff\xff"}}).ok());
  std::vector<uint64_t> seqs;
  absl::Status st = ReadAll({}, 10, &seqs);
  EXPECT_EQ(seqs, Range(1, 1));
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_FALSE(LedgerReader::IsSequenceError(st));
  EXPECT_NE(st.message().find("partition 1, offset 1"), std::string_view::npos) << st;
}

TEST_P(LedgerReaderTest, StopsAtEndAndResumesFromItsPosition) {
  Append({1, 2, 2, 3, 4, 5});
  std::vector<uint64_t> seqs;
  LedgerPosition at;
  ASSERT_TRUE(ReadAll({}, 2, &seqs, 3, &at).ok());
  EXPECT_EQ(seqs, Range(1, 2));
  EXPECT_EQ(at.offset, 3u);
  EXPECT_EQ(at.next_sequence, 3u);
  seqs.clear();
  ASSERT_TRUE(ReadAll(at, 2, &seqs).ok());
  EXPECT_EQ(seqs, Range(3, 5));
  // An empty partition: nothing, and OK.
  LedgerReader empty(ledger(), 0);
  empty.ReadAhead(GetParam());
  LedgerBatch b;
  ASSERT_TRUE(empty.Next(&b).ok());
  EXPECT_EQ(b.read, 0u);
}

// Batches read ahead: none, one, three.
INSTANTIATE_TEST_SUITE_P(ReadAhead, LedgerReaderTest, ::testing::Values(0, 1, 3));

// Read-ahead by itself: a ledger of 1000 events (sequence 500 repeated,
// identically, after 600), read 7 at a time.
class ReadAheadTest : public LedgerTest {
 protected:
  void SetUp() override {
    LedgerTest::SetUp();
    std::vector<LogRecord> recs;
    for (uint64_t s = 1; s <= 1000; ++s) {
      recs.push_back(Ev(s));
      if (s == 600) recs.push_back(Ev(500));
    }
    ASSERT_TRUE(ledger()->Append(1, std::move(recs)).ok());
  }
};

TEST_F(ReadAheadTest, HandsOutEveryBatchInOrderWithItsPosition) {
  CountingLog log(ledger());
  LedgerReader plain(&log, 1, {}, 7), ahead(&log, 1, {}, 7);
  ahead.ReadAhead(3);
  LedgerBatch a, b;
  for (int batches = 0;; ++batches) {
    ASSERT_TRUE(plain.Next(&a).ok());
    ASSERT_TRUE(ahead.Next(&b).ok());
    ASSERT_EQ(a.read, b.read) << batches;
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a.records[i].offset, b.records[i].offset);
      EXPECT_EQ(a.records[i].value, b.records[i].value);
      EXPECT_EQ(a.events[i].sequence(), b.events[i].sequence());
    }
    EXPECT_EQ(plain.position().offset, ahead.position().offset);
    EXPECT_EQ(plain.position().next_sequence, ahead.position().next_sequence);
    if (a.read == 0) break;
  }
  EXPECT_EQ(ahead.position().offset, 1001u);
  EXPECT_EQ(ahead.position().next_sequence, 1001u);
}

TEST_F(ReadAheadTest, ReadsABoundedNumberOfBatchesAhead) {
  CountingLog log(ledger());
  LedgerReader reader(&log, 1, {}, 7);
  reader.ReadAhead(2);
  LedgerBatch b;
  ASSERT_TRUE(reader.Next(&b).ok());
  // The one handed out and two ahead, however long the caller dawdles.
  for (absl::Time until = absl::Now() + absl::Seconds(10); log.reads < 3 && absl::Now() < until;)
    absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(log.reads, 3);
  ASSERT_TRUE(reader.Next(&b).ok());
  for (absl::Time until = absl::Now() + absl::Seconds(10); log.reads < 4 && absl::Now() < until;)
    absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(log.reads, 4);
}

TEST_F(ReadAheadTest, ALogErrorComesAfterTheBatchesBeforeItAndIsReadPastWhenAskedAgain) {
  CountingLog log(ledger());
  log.fail_read = 4;  // the fourth batch's read
  LedgerReader reader(&log, 1, {}, 7);
  reader.ReadAhead(3);
  LedgerBatch b;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader.Next(&b).ok());
    for (const pb::Event& e : b.events) seqs.push_back(e.sequence());
  }
  EXPECT_EQ(seqs, Range(1, 21));
  absl::Status st = reader.Next(&b);
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(reader.position().offset, 21u);  // nothing consumed past the batches handed out
  // Asked again, it reads on from there: nothing lost, nothing twice.
  while ((st = reader.Next(&b)).ok() && b.read > 0) {
    for (const pb::Event& e : b.events) seqs.push_back(e.sequence());
  }
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(seqs, Range(1, 1000));
}

TEST_F(ReadAheadTest, ADifferentRepeatStopsItAfterTheEventsBeforeIt) {
  ASSERT_TRUE(ledger()->Append(1, {Ev(1001), Ev(700, "forged"), Ev(1002)}).ok());  // 1001..1003
  LedgerReader reader(ledger(), 1, {}, 7);
  reader.ReadAhead(3);
  LedgerBatch b;
  std::vector<uint64_t> seqs;
  absl::Status st;
  while ((st = reader.Next(&b)).ok() && b.read > 0) {
    for (const pb::Event& e : b.events) seqs.push_back(e.sequence());
  }
  EXPECT_EQ(seqs, Range(1, 1001));
  EXPECT_TRUE(LedgerReader::IsSequenceError(st)) << st;
  EXPECT_NE(st.message().find("offset 1002: a different record at sequence 700"),
            std::string_view::npos)
      << st;
  EXPECT_EQ(reader.position().offset, 1002u);
  EXPECT_EQ(reader.Next(&b), st);  // it stays failed
  EXPECT_EQ(reader.Next(&b), st);
}

// Found by the simulator (ops/sim): a log that failed while a repeat was
// checked against its first record left the reader failing for good, so a
// projector stopped until restarted. The failure is no verdict on the
// ledger: the events before the repeat are handed out, the error once, and
// asking again reads on.
TEST_F(ReadAheadTest, ALogErrorWhileCheckingARepeatIsNotSticky) {
  CountingLog log(ledger());
  log.fail_lookups = 1;
  LedgerReader reader(&log, 1, {}, 7);
  LedgerBatch b;
  std::vector<uint64_t> seqs;
  int errors = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    absl::Status st = reader.Next(&b);
    if (!st.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(st)) << st;
      ++errors;
      continue;
    }
    if (b.read == 0) break;
    for (const pb::Event& e : b.events) seqs.push_back(e.sequence());
  }
  EXPECT_LE(errors, 1);            // once, if nothing came before the repeat in its batch
  EXPECT_EQ(log.fail_lookups, 0);  // the lookup did fail
  EXPECT_EQ(seqs, Range(1, 1000));
}

TEST_F(ReadAheadTest, ReadsRecordsAppendedAfterTheEnd) {
  LedgerReader reader(ledger(), 1, {}, 400);
  reader.ReadAhead(2);
  LedgerBatch b;
  uint64_t events = 0;
  absl::Status st;
  while ((st = reader.Next(&b)).ok() && b.read > 0) events += b.size();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(events, 1000u);
  ASSERT_TRUE(ledger()->Append(1, {Ev(1001), Ev(1002)}).ok());
  ASSERT_TRUE(reader.Next(&b).ok());
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.events[1].sequence(), 1002u);
  EXPECT_EQ(reader.position().next_sequence, 1003u);
}

TEST_F(ReadAheadTest, StopsEarlyAndUpToAnEnd) {
  CountingLog log(ledger());
  {
    LedgerReader reader(&log, 1, {}, 1);
    reader.ReadAhead(4, 500);
    LedgerBatch b;
    ASSERT_TRUE(reader.Next(&b).ok());
    EXPECT_EQ(b.events[0].sequence(), 1u);
  }  // destroyed with batches in flight: its thread stops
  EXPECT_LE(log.reads, 5);
  LedgerReader reader(ledger(), 1, {}, 64);
  reader.ReadAhead(2, 500);
  LedgerBatch b;
  uint64_t last = 0;
  absl::Status st;
  while ((st = reader.Next(&b, 500)).ok() && b.read > 0) last = b.records.back().offset;
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(last, 499u);
  EXPECT_EQ(reader.position().offset, 500u);
}

TEST(Backoff, DoublesUpToTheCapAndResets) {
  Backoff b(absl::Milliseconds(50), absl::Milliseconds(300));
  EXPECT_EQ(b.Take(), absl::Milliseconds(50));
  EXPECT_EQ(b.Take(), absl::Milliseconds(100));
  EXPECT_EQ(b.Take(), absl::Milliseconds(200));
  EXPECT_EQ(b.Take(), absl::Milliseconds(300));
  EXPECT_EQ(b.Take(), absl::Milliseconds(300));
  b.Reset();
  EXPECT_EQ(b.Take(), absl::Milliseconds(50));
  // A max below the min is the min.
  Backoff flat(absl::Milliseconds(50), absl::Milliseconds(10));
  flat.Take();
  EXPECT_EQ(flat.Take(), absl::Milliseconds(50));
}

TEST(Backoff, WaitReturnsEarlyWhenStopped) {
  Backoff b(absl::Seconds(30), absl::Seconds(30));
  std::atomic<bool> stop{true};
  const absl::Time start = absl::Now();
  b.Wait(stop);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(PartitionWorkers, RetriesTransientErrorsStopsOnOthersAndWakesWaiters) {
  PartitionWorkers w(WorkerOptions{.name = "test",
                                   .thread_name = "tl-test",
                                   .backoff_min = absl::Milliseconds(1),
                                   .backoff_max = absl::Milliseconds(4)},
                     3, {0, 2});
  EXPECT_EQ(w.owned(), (std::vector<int>{0, 2}));
  std::atomic<int> rounds0{0};
  w.Start(
      [&](int p) -> absl::StatusOr<size_t> {
        if (p == 2) return absl::DataLossError("bad record");
        const int n = ++rounds0;
        if (n <= 3) return absl::UnavailableError("away");
        w.Advance(0, n);
        return n < 10 ? 1 : 0;
      },
      [](int) { absl::SleepFor(absl::Milliseconds(1)); });
  // A waiter hears of each failed attempt (the log is away), then of the
  // progress once the retries get through.
  absl::Status first = w.WaitFor(0, 10, absl::Seconds(10), "late");
  EXPECT_TRUE(first.ok() || absl::IsUnavailable(first)) << first;
  for (absl::Time until = absl::Now() + absl::Seconds(10);
       w.progress(0) < 10 && absl::Now() < until;)
    absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(w.WaitFor(0, 10, absl::Seconds(10), "late").ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(w.WaitFor(0, 1000, absl::Milliseconds(20), "late")));
  absl::Status st = w.WaitFor(2, 1, absl::Seconds(10), "late");
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_TRUE(absl::IsFailedPrecondition(w.WaitFor(1, 1, absl::Seconds(1), "late")));
  w.Stop();
  EXPECT_EQ(w.failures(0), 3u);
  EXPECT_TRUE(w.error(0).ok());
  EXPECT_FALSE(w.failing(0));
  EXPECT_TRUE(w.failing(2));
  EXPECT_TRUE(absl::IsDataLoss(w.status()));
  EXPECT_GE(w.progress(0), 10u);
}

}  // namespace
}  // namespace tl
