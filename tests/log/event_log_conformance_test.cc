// One conformance suite for every EventLog backend: the embedded log, and
// Kafka on librdkafka's mock cluster (the real wire protocol on loopback).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "engine/log/embedded/embedded_log.h"
#include "engine/log/kafka/kafka_log.h"
#include "tests/support/mock_cluster.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

constexpr int kPartitions = 3;

// A backend under test: opens (and reopens) one log.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<EventLog*> Open() = 0;  // (re)opens; the previous handle is dropped
};

class EmbeddedBackend : public Backend {
 public:
  absl::StatusOr<EventLog*> Open() override {
    db_.reset();
    auto db = EmbeddedLogDb::Open(dir_.path(), kPartitions);
    if (!db.ok()) return db.status();
    db_ = std::move(*db);
    return db_->commands();
  }

 private:
  TempDir dir_;
  std::unique_ptr<EmbeddedLogDb> db_;
};

class KafkaBackend : public Backend {
 public:
  KafkaBackend() { cluster_.CreateTopic("conformance", kPartitions); }
  absl::StatusOr<EventLog*> Open() override {
    log_.reset();
    KafkaLogOptions o;
    o.brokers = cluster_.bootstraps();
    o.topic = "conformance";
    o.partitions = kPartitions;
    o.timeout = absl::Seconds(10);
    o.properties["log_level"] = "3";
    auto log = KafkaLog::Open(o);
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    return log_.get();
  }

 private:
  MockCluster cluster_{1};
  std::unique_ptr<KafkaLog> log_;
};

std::vector<LogRecord> Records(const std::string& prefix, int n) {
  std::vector<LogRecord> out;
  for (int i = 0; i < n; ++i) out.push_back({0, "campaign-" + prefix, prefix + std::to_string(i)});
  return out;
}

// Reads everything in [from, end).
std::vector<LogRecord> ReadAll(EventLog* log, int p, uint64_t from = 0) {
  std::vector<LogRecord> all, chunk;
  uint64_t end = *log->EndOffset(p);
  while (from < end) {
    absl::Status st = log->Read(p, from, 1000, &chunk);
    EXPECT_TRUE(st.ok()) << st;
    if (!st.ok() || chunk.empty()) break;
    all.insert(all.end(), chunk.begin(), chunk.end());
    from = chunk.back().offset + 1;
  }
  return all;
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "embedded") {
      backend_ = std::make_unique<EmbeddedBackend>();
    } else {
      backend_ = std::make_unique<KafkaBackend>();
    }
    auto log = backend_->Open();
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *log;
  }
  std::unique_ptr<Backend> backend_;
  EventLog* log_ = nullptr;
};

TEST_P(Conformance, OrderPerPartitionAndReadFromOffset) {
  EXPECT_EQ(log_->partitions(), kPartitions);
  EXPECT_EQ(*log_->EndOffset(0), 0u);
  auto first = log_->Append(0, Records("a", 5));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0u);
  auto second = log_->Append(0, Records("b", 3));
  ASSERT_TRUE(second.ok());
  EXPECT_GE(*second, 5u);
  ASSERT_TRUE(log_->Append(1, Records("x", 2)).ok());
  std::vector<LogRecord> all = ReadAll(log_, 0);
  ASSERT_EQ(all.size(), 8u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all[i].value, "a" + std::to_string(i));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(all[5 + i].value, "b" + std::to_string(i));
  EXPECT_EQ(all[0].key, "campaign-a");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].offset, all[i - 1].offset);
  // From the middle.
  std::vector<LogRecord> tail;
  ASSERT_TRUE(log_->Read(0, all[3].offset, 2, &tail).ok());
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].value, "a3");
  EXPECT_EQ(tail[1].value, "a4");
  // Partitions are independent.
  std::vector<LogRecord> p1 = ReadAll(log_, 1);
  ASSERT_EQ(p1.size(), 2u);
  EXPECT_EQ(p1[0].value, "x0");
  EXPECT_TRUE(ReadAll(log_, 2).empty());
  // Past the end: nothing, no error.
  std::vector<LogRecord> none;
  EXPECT_TRUE(log_->Read(0, *log_->EndOffset(0), 10, &none).ok());
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(log_->Append(kPartitions, Records("z", 1)).ok());
}

TEST_P(Conformance, AcknowledgedAppendsSurviveReopen) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(log_->Append(2, Records("r" + std::to_string(i), 3)).ok());
  uint64_t end = *log_->EndOffset(2);
  auto reopened = backend_->Open();  // the old handle is dropped, as a crashed process's would be
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  log_ = *reopened;
  EXPECT_EQ(*log_->EndOffset(2), end);
  std::vector<LogRecord> all = ReadAll(log_, 2);
  ASSERT_EQ(all.size(), 30u);
  EXPECT_EQ(all.back().value, "r92");
  ASSERT_TRUE(log_->Append(2, Records("after", 1)).ok());
  EXPECT_EQ(ReadAll(log_, 2).back().value, "after0");
}

TEST_P(Conformance, ConcurrentAppendersEachAcknowledgedOnceInOrder) {
  const int kThreads = 8, kAppends = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> acked(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        auto off =
            log_->Append(0, Records("t" + std::to_string(t) + "-" + std::to_string(i) + ":", 2));
        ASSERT_TRUE(off.ok()) << off.status();
        acked[t].push_back(*off);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<LogRecord> all = ReadAll(log_, 0);
  ASSERT_EQ(all.size(), static_cast<size_t>(2 * kThreads * kAppends));
  std::map<uint64_t, const LogRecord*> by_offset;
  std::set<std::string> values;
  for (const auto& r : all) {
    by_offset[r.offset] = &r;
    values.insert(r.value);
  }
  EXPECT_EQ(values.size(), all.size());  // exactly once
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kAppends; ++i) {
      std::string v = "t" + std::to_string(t) + "-" + std::to_string(i) + ":";
      ASSERT_TRUE(by_offset.contains(acked[t][i]));
      EXPECT_EQ(by_offset[acked[t][i]]->value, v + "0");  // the acknowledged offset holds it
      if (i > 0) {
        EXPECT_GT(acked[t][i], acked[t][i - 1]);  // each appender's order kept
      }
    }
  }
}

TEST_P(Conformance, WaitForDataSeesAnAppend) {
  EXPECT_FALSE(log_->WaitForData(1, 0, absl::Milliseconds(30)));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(log_->Append(1, Records("w", 1)).ok());
  });
  EXPECT_TRUE(log_->WaitForData(1, 0, absl::Seconds(10)));
  writer.join();
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::Values("embedded", "kafka"),
                         [](const auto& info) { return info.param; });

// A topic of `partitions` on the mock cluster, and the options of a log on it.
KafkaLogOptions MockTopic(MockCluster& cluster, const std::string& topic, int partitions) {
  cluster.CreateTopic(topic, partitions);
  KafkaLogOptions o;
  o.brokers = cluster.bootstraps();
  o.topic = topic;
  o.partitions = partitions;
  o.properties["log_level"] = "0";
  return o;
}

TEST(KafkaLog, BrokersDownFailsPromptlyAndAcknowledgesNothing) {
  MockCluster cluster(1);
  KafkaLogOptions o = MockTopic(cluster, "down", 1);
  o.timeout = absl::Seconds(2);
  auto log = KafkaLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(0, Records("up", 1)).ok());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto start = std::chrono::steady_clock::now();
  auto failed = (*log)->Append(0, Records("down", 1));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_LT(secs, 5.0);  // bounded by the configured timeout, not a hang
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(KafkaLog, RecordsDeletedByRetentionAreDataLossNotSkipped) {
  // The mock keeps at most 5 MiB per partition and drops the oldest records,
  // as a topic with retention would.
  MockCluster cluster(1);
  KafkaLogOptions o = MockTopic(cluster, "retained", 1);
  auto log = KafkaLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<LogRecord> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({0, "k", std::string(1000, 'x')});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE((*log)->Append(0, batch).ok());  // ~7 MB
  std::vector<LogRecord> out;
  absl::Status st = (*log)->Read(0, 0, 10, &out);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("offset 0: no longer in the topic"), std::string_view::npos) << st;
}

TEST(KafkaLog, TopicWithAnotherPartitionCountIsRefused) {
  MockCluster cluster(1);
  KafkaLogOptions o = MockTopic(cluster, "sized", 2);
  ASSERT_TRUE(KafkaLog::Open(o).ok());
  o.partitions = 3;
  auto again = KafkaLog::Open(o);
  EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
}

}  // namespace
}  // namespace tl::testing
