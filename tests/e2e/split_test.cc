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
#include <set>

#include "engine/core/names.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/node.h"
#include "tests/support/mock_cluster.h"
#include "tests/support/promtool.h"
#include "tests/support/servers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;
constexpr int kPartitions = 4;

// Folds `ledger` and decides the same commands on single-node; their digests
// must match partition by partition. `combined`, if given, gets single-node's
// combined digest in hex.
void ExpectSameAsSingleNode(EventLog* commands, EventLog* ledger, const std::string& dir,
                            std::string* combined = nullptr) {
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
  std::vector<Hash> digests;
  for (int p = 0; p < commands->partitions(); ++p) {
    Hash single = (*node)->engine().partition(p).state().digest;
    digests.push_back(single);
    uint64_t events = (*node)->engine().partition(p).state().next_sequence;
    follower.WithState(p, [&](const EngineState& s, uint64_t) {
      EXPECT_EQ(s.digest, single) << "partition " << p;
      EXPECT_EQ(s.next_sequence, events) << "partition " << p;  // each event exactly once
    });
  }
  if (combined) *combined = ToHex(CombinedDigest(digests));
}

// The first ids "<prefix>0", "<prefix>1", ... whose campaigns together
// cover every partition (one id per partition).
std::vector<std::string> OnePerPartition(const std::string& prefix, int partitions = kPartitions) {
  std::vector<std::string> ids;
  std::set<int> covered;
  for (int i = 0; covered.size() < static_cast<size_t>(partitions); ++i) {
    std::string id = prefix + std::to_string(i);
    if (covered.insert(PartitionFor(id, partitions)).second) ids.push_back(id);
  }
  return ids;
}

// One of ticketd's topics on `brokers`, opened by the test itself.
absl::StatusOr<std::unique_ptr<KafkaLog>> OpenTopic(const std::string& brokers,
                                                    const std::string& topic, int partitions) {
  KafkaLogOptions o;
  o.brokers = brokers;
  o.partitions = partitions;
  o.properties["log_level"] = "3";
  o.topic = topic;
  return KafkaLog::Open(o);
}

// A gauge or counter's value from a Prometheus text page (-1 if absent).
double MetricValue(const std::string& page, const std::string& series) {
  for (size_t at = page.find(series + " "); at != std::string::npos;
       at = page.find(series + " ", at + 1)) {
    if (at == 0 || page[at - 1] == '\n') return std::stod(page.substr(at + series.size() + 1));
  }
  return -1;
}

// Appends `users` entries to each of `campaigns` (5% lotteries of stock 300)
// straight to the commands topic, in batches.
void AppendLotteryCommands(KafkaLog* commands, const std::vector<std::string>& campaigns,
                           int users) {
  const int partitions = commands->partitions();
  std::map<int, std::vector<LogRecord>> batches;
  auto add = [&](const pb::Command& c) {
    int p = PartitionFor(c.campaign_id(), partitions);
    batches[p].push_back({0, c.campaign_id(), c.SerializeAsString()});
    if (batches[p].size() == 200) {
      ASSERT_TRUE(commands->Append(p, batches[p]).ok());
      batches[p].clear();
    }
  };
  for (const std::string& id : campaigns) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(1767225600000);
    c.mutable_create_campaign()->set_stock(300);
    c.mutable_create_campaign()->set_win_bps(500);
    add(c);
  }
  for (int i = 0; i < users; ++i) {
    for (const std::string& id : campaigns) {
      pb::Command c;
      c.set_campaign_id(id);
      c.set_time_ms(1767225600000 + i);
      c.mutable_request_entry()->set_user_id("u" + std::to_string(i));
      add(c);
    }
  }
  for (auto& [p, records] : batches) {
    if (!records.empty()) {
      ASSERT_TRUE(commands->Append(p, records).ok());
    }
  }
}

// 1000 users each enter the race (waiting for the decision) and the
// lottery, from 8 threads; returns the race's decisions by status.
std::map<std::string, int> EnterRaceAndLottery(TicketdProcess& api) {
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
  return race;
}

TEST(Split, ThreeProcessesMatchSingleNodeDigests) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  const std::string brokers = mock.match();
  std::vector<std::string> kafka = {"--kafka-brokers", brokers, "--partitions",
                                    std::to_string(kPartitions)};
  // The projector writes the read models, the api reads from them.
  RedisServer redis(dir.Sub("redis"));
  PostgresServer pg(dir.path());
  ASSERT_TRUE(redis.ok() && pg.ok());
  const std::vector<std::string> stores = {"--redis-url", redis.url(), "--postgres-url", pg.url()};
  TicketdProcess engine(dir.Sub("engine"), RoleArgs("engine", kafka));
  ASSERT_TRUE(engine.ok());
  std::vector<std::string> api_own = {"--user-rate", "0"};
  api_own.insert(api_own.end(), stores.begin(), stores.end());
  TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka, api_own));
  ASSERT_TRUE(api.ok());
  TicketdProcess projector(dir.Sub("projector"), RoleArgs("projector", kafka, stores));
  ASSERT_TRUE(projector.ok());

  auto c = api.Client();
  for (auto [id, stock, bps] : {std::tuple{"race", 100, 10000}, {"lottery", 5000, 500}}) {
    auto r =
        c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
                json{{"id", id}, {"stock", stock}, {"win_bps", bps}}.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  std::map<std::string, int> race = EnterRaceAndLottery(api);
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
  // Once the projector caught up, the api answers rankings and results from
  // Redis and PostgreSQL, and they agree with the fold.
  EXPECT_TRUE(WaitProjectionsCaughtUp(projector, 30));
  json winners = json::parse(c->Get("/v1/campaigns/race/results?outcome=won&limit=1000")->body);
  EXPECT_EQ(winners["items"].size(), 100u);
  json ranking = json::parse(c->Get("/v1/campaigns/race/ranking?limit=1000")->body);
  EXPECT_EQ(ranking["items"].size(), 1000u);
  auto api_metrics = c->Get("/metrics");
  ASSERT_TRUE(api_metrics);
  EXPECT_GT(MetricValue(api_metrics->body,
                        "ticketledger_reads_total{route=\"results\",source=\"postgres\"}"),
            0)
      << api_metrics->body;
  EXPECT_GT(MetricValue(api_metrics->body,
                        "ticketledger_reads_total{route=\"ranking\",source=\"redis\"}"),
            0);

  // Stop the writers, then compare the Kafka ledger with a single-node run
  // of the very same commands.
  ASSERT_EQ(api.Kill(SIGTERM), 0);
  ASSERT_EQ(engine.Kill(SIGTERM), 0);
  auto commands = OpenTopic(brokers, KafkaTopic(kCommandsLog), kPartitions);
  ASSERT_TRUE(commands.ok()) << commands.status();
  auto ledger = OpenTopic(brokers, KafkaTopic(kLedgerLog), kPartitions);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  std::string single;
  ExpectSameAsSingleNode(commands->get(), ledger->get(), dir.Sub("single"), &single);
  // The projector process folded the same ledger to the same digest.
  json projection;
  for (int i = 0; i < 200; ++i) {
    projection = json::parse(projector.Client()->Get("/v1/projection")->body);
    if (projection["digest"] == single) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(projection["digest"], single) << projection.dump();
  auto metrics = projector.Client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(MetricValue(metrics->body, "ticketledger_projector_lag_records{partition=\"0\"}"), 0)
      << metrics->body;
  EXPECT_EQ(projector.Kill(SIGTERM), 0);
}

TEST(Split, EngineKilledAtRandomPointsDecidesEveryCommandExactlyOnce) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  auto commands = OpenTopic(mock.match(), KafkaTopic(kCommandsLog), kPartitions);
  ASSERT_TRUE(commands.ok()) << commands.status();
  // Sized to stay under the mock's 5 MiB per partition (it drops older
  // records beyond that, which readers rightly refuse as data loss).
  AppendLotteryCommands(commands->get(), {"alpha", "beta"}, 3000);

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
  auto ledger = OpenTopic(mock.match(), KafkaTopic(kLedgerLog), kPartitions);
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

// The api role has no ticker: --tick-ms there is a usage error that says
// where the ticker runs, before anything connects.
TEST(Split, ApiRoleRefusesTickMs) {
  TempDir dir;
  TicketdProcess api(TL_TICKETD, {"--port", "0", "--data-dir", dir.path()},
                     {"--role", "api", "--kafka-brokers", "127.0.0.1:1", "--tick-ms", "50"},
                     "(--tick-ms .*the waiting-room ticker runs in the engine.*)",
                     /*merge_stderr=*/true);
  EXPECT_TRUE(api.ok()) << "no usage error naming the engine";
  EXPECT_EQ(api.Kill(0), 2);  // already exiting: 0 only waits
}

// How many partitions an engine process owns (-1 if it does not answer).
double PartitionsOwned(const TicketdProcess& engine) {
  auto r = engine.Client()->Get("/metrics");
  return r ? MetricValue(r->body, "ticketledger_engine_partitions_owned") : -1;
}

// Waits until engines a and b split the partitions between them, each owning some.
void WaitForSharedOwnership(const TicketdProcess& a, const TicketdProcess& b) {
  double owned_a = 0, owned_b = 0;
  for (int i = 0; i < 300 && !(owned_a >= 1 && owned_b >= 1 && owned_a + owned_b == kPartitions);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    owned_a = PartitionsOwned(a);
    owned_b = PartitionsOwned(b);
  }
  ASSERT_EQ(owned_a + owned_b, kPartitions) << owned_a << " + " << owned_b;
  ASSERT_GE(owned_a, 1);
  ASSERT_GE(owned_b, 1);
}

// Waiting rooms read through one api process: 2 admitted/s, 150 people
// each, so none drains while a test watches it move.
class WaitingRooms {
 public:
  WaitingRooms(const TicketdProcess& api, std::vector<std::string> ids)
      : c_(api.Client()), ids_(std::move(ids)) {
    c_->set_read_timeout(30, 0);
  }
  const std::vector<std::string>& ids() const { return ids_; }

  void Open() {
    for (const std::string& id : ids_) {
      auto r = c_->Post(
          "/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
          json{{"id", id}, {"stock", 100000}, {"win_bps", 10000}, {"admission_rate_per_s", 2}}
              .dump(),
          "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 201) << r->body;
      for (int u = 0; u < kPeople; ++u) Enter(id, "u" + std::to_string(u));
    }
  }

  int64_t Serving(const std::string& id) {
    auto r = c_->Get("/v1/campaigns/" + id);
    if (!r || r->status != 200) return -1;
    return json::parse(r->body)["serving"].get<int64_t>();
  }

  // The serving counter once it moved past `floor` (or after 30 s).
  int64_t MovedPast(const std::string& id, int64_t floor) {
    int64_t now = Serving(id);
    for (int i = 0; i < 300 && now <= floor; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      now = Serving(id);
    }
    return now;
  }

  // Pauses every room (paused queues need no ticks, so the commands end
  // stops moving) and ends each partition with a command that has events:
  // a tick that admits nobody leaves none, so the ledger could not show it
  // decided.
  void End() {
    for (const std::string& id : ids_) {
      auto r = c_->Post("/v1/admin/campaigns/" + id + "/pause", Auth(Token("ops", true), "wait=10"),
                        "{}", "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // a tick already on its way lands
    for (const std::string& id : ids_) Enter(id, "last");
  }

  static constexpr int kPeople = 150;

 private:
  void Enter(const std::string& id, const std::string& user) {
    auto e =
        c_->Post("/v1/campaigns/" + id + "/entries", Auth(Token(user)), "", "application/json");
    ASSERT_TRUE(e);
    ASSERT_EQ(e->status, 202) << e->body;
  }

  std::unique_ptr<httplib::Client> c_;
  std::vector<std::string> ids_;
};

// Two engines in one consumer group share the partitions; when one is
// SIGKILLed mid-run the group gives its partitions to the other, which
// catches up from the ledger, fences the dead one's transactional ids, and
// ends on single-node's digest with every event once. The waiting rooms
// move with the partitions: each engine ticks the queues of the partitions
// it owns (the api, any number of replicas, ticks nothing), so the queue of
// a campaign on the dead engine's partitions keeps moving after the takeover,
// as the api shows.
TEST(Split, SecondEngineTakesOverADeadEnginesPartitions) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  auto commands = OpenTopic(mock.match(), KafkaTopic(kCommandsLog), kPartitions);
  ASSERT_TRUE(commands.ok()) << commands.status();
  std::vector<std::string> args = {
      "--role", "engine", "--kafka-brokers", mock.match(), "--kafka-session-timeout-ms", "6000"};
  TicketdProcess a(dir.Sub("a"), args);
  ASSERT_TRUE(a.ok());
  TicketdProcess b(dir.Sub("b"), args);
  ASSERT_TRUE(b.ok());
  ASSERT_NO_FATAL_FAILURE(WaitForSharedOwnership(a, b));

  // A waiting room on every partition, entered through an api that does not tick.
  TicketdProcess api(dir.Sub("api"),
                     {"--role", "api", "--kafka-brokers", mock.match(), "--user-rate", "0"});
  ASSERT_TRUE(api.ok());
  WaitingRooms rooms(api, OnePerPartition("queue"));
  ASSERT_NO_FATAL_FAILURE(rooms.Open());
  for (const std::string& id : rooms.ids())
    EXPECT_GT(rooms.MovedPast(id, 0), 0) << id << ": not ticked";

  // Lotteries on every partition (both engines have work), then a's death.
  AppendLotteryCommands(commands->get(), OnePerPartition("drop"), 1500);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(a.Kill(SIGKILL), -SIGKILL);
  // More commands while the dead member's partitions wait for the group.
  AppendLotteryCommands(commands->get(), {"late"}, 500);
  for (int i = 0; i < 300 && PartitionsOwned(b) != kPartitions; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(PartitionsOwned(b), kPartitions);
  std::string page = b.Client()->Get("/metrics")->body;
  EXPECT_GE(MetricValue(page, "ticketledger_kafka_rebalances_total"), 2) << page;
  // Every queue, the dead engine's included, keeps moving: b ticks them now.
  std::map<std::string, int64_t> at_takeover;
  for (const std::string& id : rooms.ids()) at_takeover[id] = rooms.Serving(id);
  for (const std::string& id : rooms.ids()) {
    const int64_t later = rooms.MovedPast(id, at_takeover[id]);
    EXPECT_GT(later, at_takeover[id]) << id << " (partition " << PartitionFor(id, kPartitions)
                                      << ") stopped moving after the takeover";
    EXPECT_LT(later, WaitingRooms::kPeople) << id << " drained: the test could not see it move";
  }
  page = b.Client()->Get("/metrics")->body;
  EXPECT_GT(MetricValue(page, "ticketledger_ticks_total"), 0) << page;
  EXPECT_EQ(MetricValue(api.Client()->Get("/metrics")->body, "ticketledger_ticks_total"),
            -1);  // the api never ticks
  ASSERT_NO_FATAL_FAILURE(rooms.End());
  EXPECT_EQ(api.Kill(SIGTERM), 0);

  auto ledger = OpenTopic(mock.match(), KafkaTopic(kLedgerLog), kPartitions);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  ExpectSameAsSingleNode(commands->get(), ledger->get(), dir.Sub("single"));
  page = b.Client()->Get("/metrics")->body;
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(MetricValue(
                  page, "ticketledger_kafka_consumer_lag{partition=\"" + std::to_string(p) + "\"}"),
              0)
        << page;
  }
  EXPECT_GT(MetricValue(page, "ticketledger_kafka_transaction_commit_seconds_count"), 0);
  EXPECT_EQ(b.Kill(SIGTERM), 0);
}

// /metrics of each split role passes `promtool check metrics` after more
// than a million events, and each role's event counter is exact (a counter
// past 999,999 must not print as 1e+06): the engine (what it folded while
// deciding), the api and the projector (what they folded following the
// ledger). 64 partitions keep every partition under the mock's 5 MiB (it
// drops older records beyond that, which readers rightly refuse).
TEST(Split, EveryRoleServesExactPromtoolCleanMetricsAfterAMillionEvents) {
  if (!HavePromtool())
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; ops/install-deps.sh)";
  constexpr int kParts = 64, kUsers = 5300;
  const std::string topics = std::to_string(kParts);
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL,
                      {"kafka-mock", "--topic", "ticketledger.commands:" + topics, "--topic",
                       "ticketledger.ledger:" + topics},
                      {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  RedisServer redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.ok());
  auto commands = OpenTopic(mock.match(), KafkaTopic(kCommandsLog), kParts);
  ASSERT_TRUE(commands.ok()) << commands.status();
  const std::vector<std::string> campaigns = OnePerPartition("drop", kParts);
  AppendLotteryCommands(commands->get(), campaigns, kUsers);
  // Per campaign: created, then accepted, drawn and resolved per user.
  const double events = static_cast<double>(campaigns.size()) * (1 + 3 * kUsers);
  ASSERT_GT(events, 1e6);

  const std::vector<std::string> kafka = {"--kafka-brokers", mock.match(), "--partitions", topics};
  TicketdProcess engine(dir.Sub("engine"), RoleArgs("engine", kafka));
  ASSERT_TRUE(engine.ok());
  TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka, {"--user-rate", "0"}));
  ASSERT_TRUE(api.ok());
  TicketdProcess projector(dir.Sub("projector"),
                           RoleArgs("projector", kafka, {"--redis-url", redis.url()}));
  ASSERT_TRUE(projector.ok());
  ASSERT_TRUE(WaitProjectionsCaughtUp(projector, 600));

  struct Role {
    const char* name;
    TicketdProcess* process;
    const char* counter;
  };
  for (Role role : {Role{"engine", &engine, "ticketledger_engine_events_total"},
                    Role{"api", &api, "ticketledger_engine_events_total"},
                    Role{"projector", &projector, "ticketledger_projector_events_total"}}) {
    SCOPED_TRACE(role.name);
    auto c = role.process->Client();
    for (int i = 0; i < 3000; ++i) {
      auto r = c->Get("/metrics");
      ASSERT_TRUE(r && r->status == 200);
      if (FamilySum(r->body, role.counter) == events) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string page = c->Get("/metrics")->body;
    EXPECT_EQ(PromtoolProblems(page), "") << page;
    EXPECT_EQ(FamilySum(page, role.counter), events) << page;
    EXPECT_GE(FamilySum(page, "ticketledger_http_requests_total"), 1) << page;
  }
  EXPECT_EQ(
      MetricValue(engine.Client()->Get("/metrics")->body, "ticketledger_engine_partitions_owned"),
      kParts);
  EXPECT_EQ(projector.Kill(SIGTERM), 0);
  EXPECT_EQ(api.Kill(SIGTERM), 0);
  EXPECT_EQ(engine.Kill(SIGTERM), 0);
}

}  // namespace
}  // namespace tl::testing

namespace tl::testing {
namespace {

// Broker failure injected with the mock's own controls while the api and the
// engine run: with the broker down the api answers 503 promptly and never 202;
// Produce request errors are retried within bounds (202); when the broker is
// back everything acknowledged is in the ledger exactly once.
TEST(Split, BrokerOutageGives503AndLosesNothingAcknowledged) {
  TempDir dir;
  MockCluster mock(1);
  mock.CreateTopic(KafkaTopic(kCommandsLog), 2);
  mock.CreateTopic(KafkaTopic(kLedgerLog), 2);
  std::vector<std::string> kafka = {"--kafka-brokers", mock.bootstraps(), "--kafka-timeout-ms",
                                    "2000"};
  TicketdProcess engine(dir.Sub("engine"),
                        RoleArgs("engine", kafka, {"--kafka-session-timeout-ms", "3000"}));
  ASSERT_TRUE(engine.ok());
  TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka, {"--user-rate", "0"}));
  ASSERT_TRUE(api.ok());
  auto c = api.Client();
  c->set_read_timeout(30, 0);
  auto r = c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
                   json{{"id", "outage"}, {"stock", 10000}, {"win_bps", 10000}}.dump(),
                   "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;

  std::set<std::string> accepted;
  auto enter = [&](const std::string& user) {
    auto e = c->Post("/v1/campaigns/outage/entries", Auth(Token(user)), "", "application/json");
    if (e && e->status == 202) accepted.insert(user);
    return e ? e->status : -1;
  };
  for (int i = 0; i < 50; ++i) ASSERT_EQ(enter("before" + std::to_string(i)), 202);
  auto drawn = [&](size_t want) {
    json campaign;
    for (int i = 0; i < 1200; ++i) {
      campaign = json::parse(c->Get("/v1/campaigns/outage")->body);
      if (campaign["drawn"] == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return campaign;
  };
  ASSERT_EQ(drawn(50)["drawn"], 50);

  rd_kafka_mock_broker_set_down(mock.get(), 1);
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(enter("down" + std::to_string(i)), 503);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // never a hang
  }
  rd_kafka_mock_broker_set_up(mock.get(), 1);
  // The clients reconnect; the same users try again until they are taken.
  for (int i = 0; i < 5; ++i) {
    std::string user = "down" + std::to_string(i);
    for (int attempt = 0; attempt < 60 && enter(user) != 202; ++attempt)
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_TRUE(accepted.count(user)) << user;
  }
  // Produce request errors the producer may retry: still 202, once each.
  rd_kafka_mock_push_request_errors(
      mock.get(), /*Produce*/ 0, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(enter("retried" + std::to_string(i)), 202);

  // Everything acknowledged is decided exactly once: one WON entry per user.
  json campaign = drawn(accepted.size());
  EXPECT_EQ(campaign["drawn"], accepted.size()) << campaign.dump();
  EXPECT_EQ(campaign["won"], accepted.size());
  for (const std::string& user : accepted) {
    auto me = c->Get("/v1/campaigns/outage/entries/me", Auth(Token(user)));
    ASSERT_TRUE(me);
    EXPECT_EQ(me->status, 200) << user << " " << me->body;
  }
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_GE(MetricValue(metrics->body, "ticketledger_kafka_produce_errors_total"), 5);
  ASSERT_EQ(api.Kill(SIGTERM), 0);
  ASSERT_EQ(engine.Kill(SIGTERM), 0);

  auto commands = OpenTopic(mock.bootstraps(), KafkaTopic(kCommandsLog), 2);
  ASSERT_TRUE(commands.ok()) << commands.status();
  auto ledger = OpenTopic(mock.bootstraps(), KafkaTopic(kLedgerLog), 2);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  ExpectSameAsSingleNode(commands->get(), ledger->get(), dir.Sub("single"));
}

}  // namespace
}  // namespace tl::testing
