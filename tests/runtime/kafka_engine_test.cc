// The engine over Kafka (librdkafka's mock cluster): the same commands give
// the same ledger digest as on the embedded log, and a restarted engine, or
// one whose state store is lost, converges on the ledger without deciding
// any command twice.
#include <gtest/gtest.h>

#include "engine/core/names.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/node.h"
#include "tests/support/harness.h"
#include "tests/support/mock_cluster.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

constexpr int kPartitions = 2;
constexpr char kSecret[] = "kafka-engine-test-secret-0123456789";

// The drop: a first-come race and a 5% lottery, on both partitions' worth of
// campaigns, in fixed batches so both backends get identical offsets.
std::vector<std::pair<int, std::vector<LogRecord>>> Batches() {
  std::vector<pb::Command> cmds;
  auto create = [&](const std::string& id, uint64_t stock, uint32_t bps) {
    pb::Command c = Harness::Cmd(id, kT0);
    c.mutable_create_campaign()->set_stock(stock);
    c.mutable_create_campaign()->set_win_bps(bps);
    cmds.push_back(c);
  };
  create("race", 100, 10000);
  create("lottery", 1000, 500);
  for (int i = 0; i < 1000; ++i) {
    for (const char* id : {"race", "lottery"}) {
      pb::Command c = Harness::Cmd(id, kT0 + i);
      c.mutable_request_entry()->set_user_id("u" + std::to_string(i));
      cmds.push_back(c);
    }
  }
  std::vector<std::pair<int, std::vector<LogRecord>>> out;
  std::vector<std::vector<LogRecord>> pending(kPartitions);
  for (const pb::Command& c : cmds) {
    int p = PartitionFor(c.campaign_id(), kPartitions);
    pending[p].push_back({0, c.campaign_id(), c.SerializeAsString()});
    if (pending[p].size() == 100) {
      out.emplace_back(p, std::move(pending[p]));
      pending[p].clear();
    }
  }
  for (int p = 0; p < kPartitions; ++p) {
    if (!pending[p].empty()) out.emplace_back(p, std::move(pending[p]));
  }
  return out;
}

void AppendAll(EventLog* log) {
  for (auto& [p, records] : Batches()) ASSERT_TRUE(log->Append(p, records).ok());
}

std::vector<Hash> RunToEnd(Engine& engine, EventLog* commands) {
  EXPECT_TRUE(engine.Recover().ok()) << engine.status();
  engine.Start();
  for (int p = 0; p < kPartitions; ++p) {
    absl::Status st = engine.WaitForCommands(p, *commands->EndOffset(p), absl::Seconds(60));
    EXPECT_TRUE(st.ok()) << st;
  }
  engine.Stop();
  std::vector<Hash> digests;
  for (int p = 0; p < kPartitions; ++p) digests.push_back(engine.partition(p).state().digest);
  return digests;
}

struct KafkaSide {
  std::unique_ptr<KafkaLog> commands, ledger;
};

KafkaSide OpenKafka(MockCluster& cluster) {
  KafkaSide k;
  KafkaLogOptions o;
  o.brokers = cluster.bootstraps();
  o.partitions = kPartitions;
  o.properties["log_level"] = "3";
  o.topic = KafkaTopic(kCommandsLog);
  k.commands = std::move(*KafkaLog::Open(o));
  o.topic = KafkaTopic(kLedgerLog);
  o.transactional_id = "ticketledger-engine";
  auto ledger = KafkaLog::Open(o);
  EXPECT_TRUE(ledger.ok()) << ledger.status();
  if (ledger.ok()) k.ledger = std::move(*ledger);
  return k;
}

TEST(KafkaEngine, SameDigestAsEmbeddedAndRecoversWithoutDuplicates) {
  EngineConfig config{kSecret};
  // Reference: the embedded log.
  TempDir embedded_dir;
  NodeOptions no;
  no.data_dir = embedded_dir.path();
  no.partitions = kPartitions;
  no.config = config;
  auto node = Node::Open(no);
  ASSERT_TRUE(node.ok()) << node.status();
  AppendAll((*node)->log().commands());
  std::vector<Hash> want = RunToEnd((*node)->engine(), (*node)->log().commands());

  // Kafka.
  MockCluster cluster(1);
  cluster.CreateTopic(KafkaTopic(kCommandsLog), kPartitions);
  cluster.CreateTopic(KafkaTopic(kLedgerLog), kPartitions);
  TempDir state_dir;
  std::vector<uint64_t> ledger_end(kPartitions);
  {
    KafkaSide k = OpenKafka(cluster);
    ASSERT_TRUE(k.ledger);
    AppendAll(k.commands.get());
    auto store = StateStore::Open(state_dir.Sub("state"));
    ASSERT_TRUE(store.ok());
    Engine engine(k.commands.get(), k.ledger.get(), store->get(), config, Limits());
    EXPECT_EQ(RunToEnd(engine, k.commands.get()), want);
    const CampaignState* race =
        engine.partition(PartitionFor("race", kPartitions)).state().Find("race");
    ASSERT_NE(race, nullptr);
    EXPECT_EQ(race->snap.won(), 100u);
    EXPECT_EQ(race->snap.sold_out(), 900u);
    for (int p = 0; p < kPartitions; ++p) ledger_end[p] = *k.ledger->EndOffset(p);
  }
  // Restart: new clients (the ledger producer's transactional id fences any
  // zombie), same state store: nothing is decided again.
  {
    KafkaSide k = OpenKafka(cluster);
    ASSERT_TRUE(k.ledger);
    auto store = StateStore::Open(state_dir.Sub("state"));
    ASSERT_TRUE(store.ok());
    Engine engine(k.commands.get(), k.ledger.get(), store->get(), config, Limits());
    EXPECT_EQ(RunToEnd(engine, k.commands.get()), want);
    for (int p = 0; p < kPartitions; ++p) EXPECT_EQ(*k.ledger->EndOffset(p), ledger_end[p]);
  }
  // A lost state store: the ledger alone rebuilds it, and the engine resumes
  // after the last command the ledger answered.
  {
    KafkaSide k = OpenKafka(cluster);
    ASSERT_TRUE(k.ledger);
    auto store = StateStore::Open(state_dir.Sub("fresh"));
    ASSERT_TRUE(store.ok());
    Engine engine(k.commands.get(), k.ledger.get(), store->get(), config, Limits());
    EXPECT_EQ(RunToEnd(engine, k.commands.get()), want);
    for (int p = 0; p < kPartitions; ++p) EXPECT_EQ(*k.ledger->EndOffset(p), ledger_end[p]);
  }
}

}  // namespace
}  // namespace tl::testing
