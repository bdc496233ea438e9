// The embedded log: order, offsets, durability across reopen, group commit
// under concurrency, and a clear error for every kind of damage.
#include "engine/log/embedded/embedded_log.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <set>
#include <thread>

#include "absl/base/internal/endian.h"
#include "engine/log/record_frame.h"
#include "tests/support/temp_dir.h"

namespace tl {
namespace {

std::vector<LogRecord> Records(std::initializer_list<std::string> values) {
  std::vector<LogRecord> out;
  for (const auto& v : values) out.push_back(LogRecord{0, "k", v});
  return out;
}

TEST(EmbeddedLog, AppendReadEndOffsetAndReopen) {
  testing::TempDir dir;
  {
    auto db = EmbeddedLogDb::Open(dir.path(), 2);
    ASSERT_TRUE(db.ok()) << db.status();
    EventLog* log = (*db)->commands();
    EXPECT_EQ(*log->EndOffset(0), 0u);
    EXPECT_EQ(*log->Append(0, Records({"a", "b"})), 0u);
    EXPECT_EQ(*log->Append(0, Records({"c"})), 2u);
    EXPECT_EQ(*log->Append(1, Records({"x"})), 0u);
    EXPECT_EQ(*(*db)->ledger()->EndOffset(0), 0u);  // logs are separate
    std::vector<LogRecord> out;
    ASSERT_TRUE(log->Read(0, 1, 10, &out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].offset, 1u);
    EXPECT_EQ(out[0].value, "b");
    EXPECT_EQ(out[1].value, "c");
    EXPECT_EQ(out[1].key, "k");
    ASSERT_TRUE(log->Read(0, 3, 10, &out).ok());
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(log->Append(5, Records({"x"})).ok());
    EXPECT_FALSE(log->Append(0, {}).ok());
  }
  auto db = EmbeddedLogDb::Open(dir.path(), 2);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->commands()->EndOffset(0), 3u);
  EXPECT_EQ(*(*db)->commands()->EndOffset(1), 1u);
  EXPECT_EQ(*(*db)->commands()->Append(0, Records({"d"})), 3u);
  // The partition count is fixed at creation.
  db->reset();
  auto wrong = EmbeddedLogDb::Open(dir.path(), 3);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong.status())) << wrong.status();
}

TEST(EmbeddedLog, ConcurrentAppendersGetGaplessOrderedOffsets) {
  testing::TempDir dir;
  auto db = EmbeddedLogDb::Open(dir.path(), 1);
  ASSERT_TRUE(db.ok());
  EventLog* log = (*db)->commands();
  const int kThreads = 16, kAppends = 200;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> offsets(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::string v = std::to_string(t) + ":" + std::to_string(i);
        auto off = log->Append(0, {LogRecord{0, "k", v + "a"}, LogRecord{0, "k", v + "b"}});
        ASSERT_TRUE(off.ok());
        offsets[t].push_back(*off);
      }
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t total = 2 * kThreads * kAppends;
  EXPECT_EQ(*log->EndOffset(0), total);
  std::vector<LogRecord> all;
  ASSERT_TRUE(log->Read(0, 0, total, &all).ok());
  ASSERT_EQ(all.size(), total);
  std::set<std::string> seen;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kAppends; ++i) {
      uint64_t off = offsets[t][i];
      std::string v = std::to_string(t) + ":" + std::to_string(i);
      EXPECT_EQ(all[off].value, v + "a");      // the acknowledged offset holds the record
      EXPECT_EQ(all[off + 1].value, v + "b");  // and one append is contiguous
      if (i > 0) {
        EXPECT_GT(off, offsets[t][i - 1]);  // each appender's order kept
      }
    }
  }
  for (const auto& r : all) seen.insert(r.value);
  EXPECT_EQ(seen.size(), total);  // exactly once each
}

TEST(EmbeddedLog, WaitForDataWakesOnAppend) {
  testing::TempDir dir;
  auto db = EmbeddedLogDb::Open(dir.path(), 1);
  ASSERT_TRUE(db.ok());
  EventLog* log = (*db)->ledger();
  EXPECT_FALSE(log->WaitForData(0, 0, absl::Milliseconds(10)));
  std::thread writer([&] { ASSERT_TRUE(log->Append(0, Records({"x"})).ok()); });
  EXPECT_TRUE(log->WaitForData(0, 0, absl::Seconds(10)));
  writer.join();
}

class Damage : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = EmbeddedLogDb::Open(dir_.path(), 1);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    for (std::string v : {"r0", "r1", "r2", "r3", "r4", "r5"}) {
      ASSERT_TRUE(db_->commands()->Append(0, Records({v})).ok());
    }
  }
  absl::Status ReadAll() {
    std::vector<LogRecord> out;
    return db_->commands()->Read(0, 0, 100, &out);
  }
  testing::TempDir dir_;
  std::unique_ptr<EmbeddedLogDb> db_;
};

TEST_F(Damage, FlippedByteIsAChecksumErrorNamingTheOffset) {
  std::string raw = EncodeChunk(Records({"r5"}));
  raw.back() ^= 0x01;
  ASSERT_TRUE(db_->commands()->OverwriteRawForTesting(0, 5, raw).ok());
  absl::Status st = ReadAll();
  EXPECT_TRUE(absl::IsDataLoss(st));
  EXPECT_NE(st.message().find("commands log, partition 0, offset 5: checksum mismatch"),
            std::string_view::npos)
      << st;
}

TEST_F(Damage, TruncatedRecordIsNamed) {
  std::string raw = EncodeChunk(Records({"r3"}));
  ASSERT_TRUE(db_->commands()->OverwriteRawForTesting(0, 3, raw.substr(0, 4)).ok());
  absl::Status st = ReadAll();
  EXPECT_TRUE(absl::IsDataLoss(st));
  EXPECT_NE(st.message().find("offset 3: truncated record"), std::string_view::npos) << st;
  // A value length that runs past the chunk (with a valid checksum) is
  // truncation too.
  raw = EncodeChunk(Records({"r3"}));
  absl::little_endian::Store32(raw.data() + 13, 100);
  absl::little_endian::Store32(
      raw.data() + 1, static_cast<uint32_t>(crc32_z(
                          0, reinterpret_cast<const Bytef*>(raw.data() + 5), raw.size() - 5)));
  ASSERT_TRUE(db_->commands()->OverwriteRawForTesting(0, 3, raw).ok());
  st = ReadAll();
  EXPECT_NE(st.message().find("offset 3: truncated record"), std::string_view::npos) << st;
}

TEST_F(Damage, UnknownFormatAndMissingRecordAreNamed) {
  std::string raw = EncodeChunk(Records({"r2"}));
  raw[0] = 9;
  ASSERT_TRUE(db_->commands()->OverwriteRawForTesting(0, 2, raw).ok());
  absl::Status st = ReadAll();
  EXPECT_NE(st.message().find("offset 2: unknown record format 9"), std::string_view::npos) << st;
  ASSERT_TRUE(db_->commands()->OverwriteRawForTesting(0, 2, EncodeChunk(Records({"r2"}))).ok());
  ASSERT_TRUE(ReadAll().ok());
  ASSERT_TRUE(db_->commands()->DeleteForTesting(0, 1).ok());
  st = ReadAll();
  EXPECT_NE(st.message().find("offset 1: record missing"), std::string_view::npos) << st;
}

}  // namespace
}  // namespace tl
