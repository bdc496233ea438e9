// The split deployment: three processes — the Kafka mock cluster (ticketctl
// kafka-mock), ticketd --role engine and ticketd --role api — serving the
// first-come race and a 5% lottery over HTTP. The ledger the engine wrote to
// Kafka must equal, digest for digest, what single-node decides from the same
// commands.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/kafka_log.h"
#include "engine/ledger_follower.h"
#include "engine/node.h"
#include "tests/temp_dir.h"
#include "tests/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;
constexpr int kPartitions = 4;

// Folds `ledger` and decides the same commands on single-node; their digests
// must match partition by partition.
void ExpectSameAsSingleNode(EventLog* commands, EventLog* ledger, const std::string& dir) {
  LedgerFollower follower(ledger, EngineConfig{});
  follower.Start();
  NodeOptions no;
  no.data_dir = dir;
  no.partitions = commands->partitions();
  no.config.seed_secret = kSeedSecret;
  auto node = Node::Open(no);
  ASSERT_TRUE(node.ok());
  for (int p = 0; p < commands->partitions(); ++p) {
    std::vector<LogRecord> recs;
    for (uint64_t at = 0, end = *commands->EndOffset(p); at < end;) {
      ASSERT_TRUE(commands->Read(p, at, 1000, &recs).ok());
      ASSERT_FALSE(recs.empty());
      // Same offsets on both sides: the commands topic has no gaps here.
      ASSERT_EQ(*(*node)->log().commands()->Append(p, recs), recs.front().offset);
      at = recs.back().offset + 1;
    }
  }
  (*node)->engine().Start();
  for (int p = 0; p < commands->partitions(); ++p) {
    uint64_t end = *(*node)->log().commands()->EndOffset(p);
    ASSERT_TRUE((*node)->engine().WaitForCommands(p, end, absl::Seconds(60)).ok());
    ASSERT_TRUE(follower.WaitForCommands(p, end, absl::Seconds(60)).ok()) << follower.status();
  }
  (*node)->engine().Stop();
  follower.Stop();
  for (int p = 0; p < commands->partitions(); ++p) {
    Hash single = (*node)->engine().partition(p).state().digest;
    uint64_t events = (*node)->engine().partition(p).state().next_sequence;
    follower.WithState(p, [&](const EngineState& s, uint64_t) {
      EXPECT_EQ(s.digest, single) << "partition " << p;
      EXPECT_EQ(s.next_sequence, events) << "partition " << p;  // each event exactly once
    });
  }
}

TEST(Split, ThreeProcessesMatchSingleNodeDigests) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  const std::string brokers = mock.match();
  std::vector<std::string> kafka = {"--kafka-brokers", brokers, "--partitions",
                                    std::to_string(kPartitions)};
  std::vector<std::string> engine_args = {"--role", "engine"},
                           api_args = {"--role", "api", "--user-rate", "0"};
  engine_args.insert(engine_args.end(), kafka.begin(), kafka.end());
  api_args.insert(api_args.end(), kafka.begin(), kafka.end());
  TicketdProcess engine(dir.Sub("engine"), engine_args);
  ASSERT_TRUE(engine.ok());
  TicketdProcess api(dir.Sub("api"), api_args);
  ASSERT_TRUE(api.ok());

  auto c = api.Client();
  for (auto [id, stock, bps] : {std::tuple{"race", 100, 10000}, {"lottery", 5000, 500}}) {
    auto r =
        c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
                json{{"id", id}, {"stock", stock}, {"win_bps", bps}}.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  std::mutex mu;
  std::map<std::string, int> race;
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&] {
      auto client = api.Client();
      for (int i; (i = next.fetch_add(1)) < 1000;) {
        std::string user = "u" + std::to_string(i);
        auto r = client->Post("/v1/campaigns/race/entries", Auth(Token(user), "wait=10"), "",
                              "application/json");
        ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
        {
          std::lock_guard<std::mutex> lock(mu);
          race[json::parse(r->body)["status"].get<std::string>()]++;
        }
        auto l = client->Post("/v1/campaigns/lottery/entries", Auth(Token(user)), "",
                              "application/json");
        ASSERT_TRUE(l && l->status == 202);
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(race["won"], 100);
  EXPECT_EQ(race["sold_out"], 900);

  // Every lottery entry is drawn, read back through the api role.
  json lottery;
  for (int i = 0; i < 200; ++i) {
    lottery = json::parse(c->Get("/v1/campaigns/lottery")->body);
    if (lottery["drawn"] == 1000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(lottery["drawn"], 1000);

  // Stop the writers, then compare the Kafka ledger with a single-node run
  // of the very same commands.
  ASSERT_EQ(api.Kill(SIGTERM), 0);
  ASSERT_EQ(engine.Kill(SIGTERM), 0);
  KafkaLogOptions o;
  o.brokers = brokers;
  o.partitions = kPartitions;
  o.properties["log_level"] = "3";
  o.topic = "ticketledger.commands";
  auto commands = KafkaLog::Open(o);
  ASSERT_TRUE(commands.ok()) << commands.status();
  o.topic = "ticketledger.ledger";
  auto ledger = KafkaLog::Open(o);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  ExpectSameAsSingleNode(commands->get(), ledger->get(), dir.Sub("single"));
}

TEST(Split, EngineKilledAtRandomPointsDecidesEveryCommandExactlyOnce) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  KafkaLogOptions o;
  o.brokers = mock.match();
  o.partitions = kPartitions;
  o.properties["log_level"] = "3";
  o.topic = "ticketledger.commands";
  auto commands = KafkaLog::Open(o);
  ASSERT_TRUE(commands.ok()) << commands.status();
  // Sized to stay under the mock's 5 MiB per partition (it drops older
  // records beyond that, which readers rightly refuse as data loss).
  std::map<int, std::vector<LogRecord>> batches;
  auto add = [&](const pb::Command& c) {
    int p = PartitionFor(c.campaign_id(), kPartitions);
    batches[p].push_back({0, c.campaign_id(), c.SerializeAsString()});
    if (batches[p].size() == 200) {
      ASSERT_TRUE((*commands)->Append(p, batches[p]).ok());
      batches[p].clear();
    }
  };
  for (const char* id : {"alpha", "beta"}) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(1767225600000);
    c.mutable_create_campaign()->set_stock(300);
    c.mutable_create_campaign()->set_win_bps(500);
    add(c);
  }
  for (int i = 0; i < 3000; ++i) {
    for (const char* id : {"alpha", "beta"}) {
      pb::Command c;
      c.set_campaign_id(id);
      c.set_time_ms(1767225600000 + i);
      c.mutable_request_entry()->set_user_id("u" + std::to_string(i));
      add(c);
    }
  }
  for (auto& [p, records] : batches) {
    if (!records.empty()) {
      ASSERT_TRUE((*commands)->Append(p, records).ok());
    }
  }

  std::vector<std::string> args = {"--role", "engine", "--kafka-brokers", mock.match()};
  std::mt19937_64 rng(7);
  int kills = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    TicketdProcess engine(dir.Sub("engine"), args);
    ASSERT_TRUE(engine.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 150));
    kills += engine.Kill(SIGKILL) == -SIGKILL;
  }
  EXPECT_EQ(kills, 10);
  TicketdProcess engine(dir.Sub("engine"), args);
  ASSERT_TRUE(engine.ok());
  o.topic = "ticketledger.ledger";
  auto ledger = KafkaLog::Open(o);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  ExpectSameAsSingleNode(commands->get(), ledger->get(), dir.Sub("single"));
  EXPECT_EQ(engine.Kill(SIGTERM), 0);
  // How much killed engines left behind: records beyond the folded events.
  uint64_t records = 0;
  for (int p = 0; p < kPartitions; ++p) {
    std::vector<LogRecord> recs;
    for (uint64_t at = 0, end = *(*ledger)->EndOffset(p); at < end; at = recs.back().offset + 1) {
      ASSERT_TRUE((*ledger)->Read(p, at, 10000, &recs).ok());
      if (recs.empty()) break;
      records += recs.size();
    }
  }
  std::printf("engine killed %d times; ledger holds %llu records for %d events\n", kills,
              static_cast<unsigned long long>(records), 2 * (1 + 3 * 3000));
}

}  // namespace
}  // namespace tl::testing
