// The read models against a real redis-server and a real PostgreSQL, started
// on free loopback ports in a temporary directory (tests/servers.h): what
// they hold equals the engine's state; a projector SIGKILLed at random points,
// or cut off from its store, ends equal to a clean rebuild (full dumps of
// both stores compared); `ticketctl rebuild` swaps atomically and resumes.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "engine/runtime/node.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/redis/redis_sink.h"
#include "tests/support/servers.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;
using Dump = std::map<std::string, std::string>;

// Every key of a Redis namespace, with its whole value, keyed by the part
// after the namespace.
Dump DumpRedis(proj::RedisConnection& conn, const std::string& ns_prefix) {
  Dump out;
  std::string cursor = "0";
  do {
    auto s = conn.Pipeline({{"SCAN", cursor, "MATCH", ns_prefix + ":*", "COUNT", "1000"}});
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return out;
    const redisReply* res = (*s)[0].get();
    cursor = std::string(res->element[0]->str, res->element[0]->len);
    for (size_t i = 0; i < res->element[1]->elements; ++i) {
      std::string key(res->element[1]->element[i]->str, res->element[1]->element[i]->len);
      auto t = conn.Pipeline({{"TYPE", key}});
      std::string type = (*t)[0]->str;
      std::vector<std::string> read;
      if (type == "string") read = {"GET", key};
      if (type == "hash") read = {"HGETALL", key};
      if (type == "zset") read = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
      if (type == "set") read = {"SMEMBERS", key};
      auto v = conn.Pipeline({read});
      const redisReply* r = (*v)[0].get();
      std::vector<std::string> parts;
      if (r->type == REDIS_REPLY_STRING) parts.emplace_back(r->str, r->len);
      for (size_t j = 0; j < r->elements; ++j)
        parts.emplace_back(r->element[j]->str, r->element[j]->len);
      if (type == "hash") {  // field order is not part of the value
        std::map<std::string, std::string> h;
        for (size_t j = 0; j + 1 < parts.size(); j += 2) h[parts[j]] = parts[j + 1];
        parts.clear();
        for (auto& [f, x] : h) parts.push_back(f + "=" + x);
      }
      if (type == "set") std::sort(parts.begin(), parts.end());
      std::string joined;
      for (auto& p : parts) joined += p + "\n";
      out[key.substr(ns_prefix.size())] = type + ":" + joined;
    }
  } while (cursor != "0");
  return out;
}

// Every row of every read-model table of `schema`, in key order.
std::string DumpPg(const std::string& url, const std::string& schema) {
  proj::PgSink sink({url, schema});
  std::ostringstream out;
  absl::Status st = sink.Read([&](pqxx::work& tx) {
    for (const char* q : {"SELECT * FROM campaigns ORDER BY campaign",
                          "SELECT * FROM entries ORDER BY campaign, position",
                          "SELECT * FROM stock_changes ORDER BY ledger_partition, sequence",
                          "SELECT * FROM checkpoints ORDER BY ledger_partition"}) {
      out << q << "\n";
      for (const auto& row : tx.exec(q)) {
        for (const auto& f : row) out << (f.is_null() ? "NULL" : f.c_str()) << "|";
        out << "\n";
      }
    }
  });
  EXPECT_TRUE(st.ok()) << st;
  return out.str();
}

// A single-node data dir with a ledger: a 5% lottery, a first-come race
// with a cancellation and a restock, closed and revealed, rejections.
void MakeLedger(const std::string& dir, int users) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 2;
  o.config.seed_secret = kSeedSecret;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status();
  (*node)->engine().Start();
  uint64_t t = 1767225600000;
  auto submit = [&](const std::string& campaign, auto fill) {
    pb::Command c;
    c.set_campaign_id(campaign);
    c.set_time_ms(t++);
    fill(c);
    ASSERT_TRUE((*node)->Submit(c).ok());
  };
  submit("lottery", [](pb::Command& c) {
    c.mutable_create_campaign()->set_stock(1000);
    c.mutable_create_campaign()->set_win_bps(500);
  });
  submit("race", [](pb::Command& c) {
    c.mutable_create_campaign()->set_stock(20);
    c.mutable_create_campaign()->set_win_bps(10000);
    c.mutable_create_campaign()->set_title("Race");
  });
  for (int i = 0; i < users; ++i) {
    const std::string u = "u" + std::to_string(i);
    submit("lottery", [&](pb::Command& c) { c.mutable_request_entry()->set_user_id(u); });
    if (i < 60) submit("race", [&](pb::Command& c) { c.mutable_request_entry()->set_user_id(u); });
  }
  submit("race", [](pb::Command& c) { c.mutable_request_entry()->set_user_id("u1"); });  // dup
  submit("race", [](pb::Command& c) { c.mutable_cancel_entry()->set_user_id("u3"); });
  submit("race", [](pb::Command& c) { c.mutable_restock()->set_units(5); });
  submit("race", [](pb::Command& c) { c.mutable_close_campaign(); });
  submit("race", [](pb::Command& c) { c.mutable_request_entry()->set_user_id("late"); });
  submit("race", [](pb::Command& c) { c.mutable_reveal_seed(); });
  submit("nosuch", [](pb::Command& c) { c.mutable_request_entry()->set_user_id("x"); });
  for (int p = 0; p < 2; ++p) {
    uint64_t end = *(*node)->log().commands()->EndOffset(p);
    ASSERT_TRUE((*node)->engine().WaitForCommands(p, end, absl::Seconds(60)).ok());
  }
  (*node)->engine().Stop();
}

struct Stores {
  explicit Stores(const TempDir& dir) : redis(dir.Sub("redis")), pg(dir.path()) {}
  RedisServer redis;
  PostgresServer pg;
  proj::RedisOptions redis_options() const {
    proj::RedisOptions o;
    o.port = redis.port();
    return o;
  }
};

// A clean projection of `dir`'s ledger into namespace / schema "clean".
void CleanProjection(const std::string& dir, Stores& s) {
  auto db = EmbeddedLogDb::Open(dir + "/log", 2, Limits(), /*read_only=*/true);
  ASSERT_TRUE(db.ok()) << db.status();
  proj::RedisSink redis(s.redis_options(), "clean", false);
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis).RunToEnd().ok());
  proj::PgSink pg({s.pg.url(), "clean"});
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg).RunToEnd().ok());
}

std::string CurrentNs(Stores& s) {
  proj::RedisSink sink(s.redis_options());
  return *sink.CurrentNamespace();
}

void ExpectEqualToClean(Stores& s) {
  proj::RedisConnection conn(s.redis_options());
  Dump live = DumpRedis(conn, "tl:" + CurrentNs(s)), clean = DumpRedis(conn, "tl:clean");
  EXPECT_GT(live.size(), 5u);
  EXPECT_EQ(live, clean);
  EXPECT_EQ(DumpPg(s.pg.url(), "ticketledger"), DumpPg(s.pg.url(), "clean"));
}

TEST(Projections, RedisAndPostgresHoldWhatTheEngineDecided) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeLedger(dir.Sub("node"), 2000);
  auto db = EmbeddedLogDb::Open(dir.Sub("node") + "/log", 2, Limits(), true);
  ASSERT_TRUE(db.ok());
  proj::RedisSink redis(s.redis_options());
  proj::PgSink pg({s.pg.url(), "ticketledger"});
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis).RunToEnd().ok());
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg).RunToEnd().ok());

  // The engine's own fold, for comparison.
  NodeOptions o;
  o.data_dir = dir.Sub("node");
  o.partitions = 2;
  o.config.seed_secret = kSeedSecret;
  db->reset();
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok());
  proj::RedisConnection conn(s.redis_options());
  const std::string ns = "tl:" + *redis.CurrentNamespace();
  for (const char* id : {"lottery", "race"}) {
    int p = PartitionFor(id, 2);
    const CampaignState* cs = (*node)->engine().partition(p).state().Find(id);
    ASSERT_NE(cs, nullptr);
    auto r = conn.Pipeline(
        {{"HGETALL", ns + ":c:" + id + ":summary"}, {"ZCARD", ns + ":c:" + id + ":rank"}});
    ASSERT_TRUE(r.ok());
    std::map<std::string, std::string> h;
    for (size_t i = 0; i + 1 < (*r)[0]->elements; i += 2)
      h[(*r)[0]->element[i]->str] = (*r)[0]->element[i + 1]->str;
    EXPECT_EQ(h["entries"], std::to_string(cs->snap.last_position())) << id;
    EXPECT_EQ(h["won"], std::to_string(cs->snap.won())) << id;
    EXPECT_EQ(h["lost"], std::to_string(cs->snap.lost())) << id;
    EXPECT_EQ(h["sold_out"], std::to_string(cs->snap.sold_out())) << id;
    EXPECT_EQ(h["stock_left"], std::to_string(cs->snap.stock_left())) << id;
    EXPECT_EQ((*r)[1]->integer, static_cast<long long>(cs->snap.last_position()));
    // PostgreSQL: the outcome counts and the winners by cursor.
    ASSERT_TRUE(pg.Read([&](pqxx::work& tx) {
                    auto won = tx.exec_params(
                        "SELECT count(*) FROM entries WHERE campaign = $1 AND outcome IN ('won', "
                        "'cancelled')",
                        std::string(id));
                    EXPECT_EQ(won[0][0].as<uint64_t>(), cs->snap.won()) << id;
                    auto summary = tx.exec_params(
                        "SELECT entries, stock_left, status FROM campaigns WHERE campaign = $1",
                        std::string(id));
                    EXPECT_EQ(summary[0][0].as<uint64_t>(), cs->snap.last_position());
                    EXPECT_EQ(summary[0][1].as<uint64_t>(), cs->snap.stock_left());
                  }).ok());
  }
  // One user's status, both stores: u3 won the race and cancelled.
  auto st = conn.Pipeline({{"HGET", ns + ":c:race:status", "u3"},
                           {"HGET", ns + ":c:race:status", "late"},
                           {"HGET", ns + ":c:race:status", "u1"}});
  EXPECT_EQ(std::string((*st)[0]->str), "4|cancelled");
  EXPECT_EQ(std::string((*st)[1]->str), "0|rejected:REJECT_CAMPAIGN_CLOSED");
  EXPECT_EQ(std::string((*st)[2]->str), "2|won");  // the duplicate did not overwrite it
  ASSERT_TRUE(pg.Read([&](pqxx::work& tx) {
                  auto rows = tx.exec(
                      "SELECT campaign, outcome FROM entries WHERE user_id = 'u3' ORDER BY "
                      "campaign");
                  ASSERT_EQ(rows.size(), 2u);
                  EXPECT_EQ(std::string(rows[1][1].c_str()), "cancelled");
                  auto stock = tx.exec("SELECT reason, delta FROM stock_changes ORDER BY sequence");
                  ASSERT_EQ(stock.size(), 2u);
                }).ok());
  // Applying again changes nothing: the checkpoints say it is all there.
  Dump before = DumpRedis(conn, ns);
  std::string pg_before = DumpPg(s.pg.url(), "ticketledger");
  db = EmbeddedLogDb::Open(dir.Sub("node") + "/log", 2, Limits(), true);
  node->reset();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis).RunToEnd().ok());
  ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg).RunToEnd().ok());
  EXPECT_EQ(DumpRedis(conn, ns), before);
  EXPECT_EQ(DumpPg(s.pg.url(), "ticketledger"), pg_before);
}

std::vector<std::string> TicketdArgs(Stores& s) {
  return {"--partitions", "2",         "--redis-url", s.redis.url(), "--postgres-url",
          s.pg.url(),     "--tick-ms", "0",           "--user-rate", "0"};
}

TEST(Projections, ProjectorKilledAtRandomPointsEqualsACleanRebuild) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeLedger(dir.Sub("node"), 30000);
  std::mt19937_64 rng(11);
  for (int kill = 0; kill < 10; ++kill) {
    TicketdProcess t(dir.Sub("node"), TicketdArgs(s));
    ASSERT_TRUE(t.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
    EXPECT_EQ(t.Kill(SIGKILL), -SIGKILL);
  }
  TicketdProcess t(dir.Sub("node"), TicketdArgs(s));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(WaitProjectionsCaughtUp(t, 60));
  EXPECT_EQ(t.Kill(SIGTERM), 0);
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);
}

TEST(Projections, StoreOutageBacksOffReportsAndCatchesUp) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeLedger(dir.Sub("node"), 100);
  TicketdProcess t(dir.Sub("node"), TicketdArgs(s));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(WaitProjectionsCaughtUp(t, 30));
  s.redis.Stop();
  s.pg.Stop();
  auto c = t.Client();
  for (int i = 0; i < 200; ++i) {  // writes and the engine go on
    auto r = c->Post("/v1/campaigns/lottery/entries", Auth(Token("o" + std::to_string(i))), "",
                     "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
  }
  json ready;
  for (int i = 0; i < 100; ++i) {
    ready = json::parse(c->Get("/readyz")->body);
    if (ready.contains("read_models")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready["status"], "ready");
  ASSERT_TRUE(ready.contains("read_models")) << ready.dump();
  EXPECT_NE(ready["read_models"]["message"].get<std::string>().find("behind by"), std::string::npos)
      << ready.dump();
  auto m = c->Get("/metrics");
  EXPECT_NE(m->body.find("ticketledger_projection_up{store=\"redis\"} 0"), std::string::npos);
  EXPECT_NE(m->body.find("ticketledger_projection_up{store=\"postgres\"} 0"), std::string::npos);
  ASSERT_TRUE(s.redis.Start());
  ASSERT_TRUE(s.pg.Start());
  // Redis came back empty. A partition with nothing new to write learns it
  // from its idle check of the store (once a second): until then its lag
  // still reads 0, so wait past one check before trusting the metrics.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(WaitProjectionsCaughtUp(t, 60));
  EXPECT_EQ(t.Kill(SIGTERM), 0);
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);
}

TEST(Projections, RebuildSwapsAtomicallyResumesAndRefusesWhenUnreachable) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeLedger(dir.Sub("node"), 5000);
  {
    TicketdProcess t(dir.Sub("node"), TicketdArgs(s));
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(WaitProjectionsCaughtUp(t, 30));
    EXPECT_EQ(t.Kill(SIGTERM), 0);
  }
  const std::string before = CurrentNs(s);
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> base = {"--data-dir", dir.Sub("node"), "--partitions", "2", "rebuild"};
    base.insert(base.end(), args.begin(), args.end());
    return TicketdProcess(TL_TICKETCTL, base, {}, "^(.)", /*merge_stderr=*/true);
  };
  // --dry-run builds and drops: readers keep the namespace they had.
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url(), "--dry-run"}).Kill(0), 0);
  EXPECT_EQ(CurrentNs(s), before);
  // Interrupted, then run again: it resumes and swaps.
  {
    auto first = ctl({"postgres", "--postgres-url", s.pg.url()});
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    first.Kill(SIGKILL);
  }
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url()}).Kill(0), 0);
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url()}).Kill(0), 0);
  EXPECT_NE(CurrentNs(s), before);
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);
  proj::RedisConnection conn(s.redis_options());
  EXPECT_TRUE(DumpRedis(conn, "tl:" + before).empty());  // the old namespace is gone
  // One campaign damaged in both stores, rebuilt alone (the others untouched).
  const std::string live = "tl:" + CurrentNs(s);
  ASSERT_TRUE(conn.Pipeline({{"HSET", live + ":c:race:status", "u1", "999|lost"},
                             {"HDEL", live + ":c:race:summary", "won"},
                             {"DEL", live + ":c:race:rank"}})
                  .ok());
  proj::PgSink pg({s.pg.url(), "ticketledger"});
  ASSERT_TRUE(pg.Read([](pqxx::work& tx) {
                  tx.exec("UPDATE entries SET outcome = 'lost' WHERE campaign = 'race'");
                  tx.exec("DELETE FROM stock_changes WHERE campaign = 'race'");
                  tx.commit();
                }).ok());
  EXPECT_NE(DumpRedis(conn, live), DumpRedis(conn, "tl:clean"));
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url(), "--campaign", "race"}).Kill(0), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url(), "--campaign", "race"}).Kill(0), 0);
  ExpectEqualToClean(s);
  // An unreachable store: exit 2, and the message says which.
  EXPECT_EQ(
      ctl({"redis", "--redis-url", "redis://127.0.0.1:" + std::to_string(FreePort())}).Kill(0), 2);
}

}  // namespace
}  // namespace tl::testing
