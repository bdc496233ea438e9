// LedgerReader's policy against a real embedded ledger: distinct events in
// sequence order; an identical repeat dropped wherever its first record is
// (same batch, an earlier batch, before the reader started); a different
// repeat or a gap is DATA_LOSS naming partition, offset and sequence. Also
// the capped backoff and the partition worker scaffold.
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

class LedgerReaderTest : public ::testing::Test {
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
};

TEST_F(LedgerReaderTest, IdenticalRepeatsAreDroppedAcrossBatchBoundaries) {
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

TEST_F(LedgerReaderTest, RepeatOfASequenceReadBeforeTheReaderStartedIsComparedToo) {
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

TEST_F(LedgerReaderTest, DifferentRepeatIsDataLossAfterTheEventsBeforeIt) {
  Append({1, 2, 3, 4, 5});
  Append({6, 7});
  Append({6, 7, 8});
  Append({2}, "forged");  // offset 10: first read in an earlier batch
  for (size_t batch : {1, 3, 100}) {
    LedgerReader reader(ledger(), 1, {}, batch);
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

TEST_F(LedgerReaderTest, DifferentRepeatInTheSameBatch) {
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

TEST_F(LedgerReaderTest, GapIsDataLoss) {
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

TEST_F(LedgerReaderTest, RepeatWithNoEarlierRecordIsDataLoss) {
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

TEST_F(LedgerReaderTest, UndecodableRecordIsDataLossNotASequenceError) {
  Append({1});
  ASSERT_TRUE(ledger()->Append(1, {LogRecord{0, "c", "\xff\xff\xff"}}).ok());
  std::vector<uint64_t> seqs;
  absl::Status st = ReadAll({}, 10, &seqs);
  EXPECT_EQ(seqs, Range(1, 1));
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_FALSE(LedgerReader::IsSequenceError(st));
  EXPECT_NE(st.message().find("partition 1, offset 1"), std::string_view::npos) << st;
}

TEST_F(LedgerReaderTest, StopsAtEndAndResumesFromItsPosition) {
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
  LedgerBatch b;
  ASSERT_TRUE(empty.Next(&b).ok());
  EXPECT_EQ(b.read, 0u);
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
