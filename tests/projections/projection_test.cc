// The read models against a real redis-server and a real PostgreSQL, started
// on free loopback ports in a temporary directory (tests/servers.h): what
// they hold equals the engine's state; a projector SIGKILLed at random points,
// or cut off from its store, ends equal to a clean rebuild (full dumps of
// both stores compared); `ticketctl rebuild` swaps atomically and resumes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "engine/core/hash.h"
#include "engine/core/names.h"
#include "engine/runtime/node.h"
#include "projections/postgres/pg_reader.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/read_model.h"
#include "projections/redis/redis_reader.h"
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
                          "SELECT * FROM items ORDER BY campaign, item_id",
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
    // Campaigns without holds or an at-close draw read as they always did.
    for (const char* f : {"hold_s", "draw", "entropy_source", "confirmed", "expired", "waitlisted",
                          "promoted", "entropy_value"})
      EXPECT_EQ(h.count(f), 0u) << id << " " << f;
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

// --- Issue 14: holds, confirmations, expiries, the at-close draw and its
// promotions, and the receipts.

constexpr uint64_t kT0 = 1767225600000;

// A ledger with every event of issue 14, as the contract (brief 14) has the
// engine write it: "held", an instant campaign with a 60 s hold (a win
// confirmed, one expired and given to a later entry, which is cancelled),
// and "atclose", an at-close draw with a 30 s hold and committed entropy (a
// win confirmed; one expired, one released, a restock: each unit promoted
// to the waitlist's head). Events are in command-time order, sequences per
// partition.
class HoldsLedger {
 public:
  HoldsLedger() {
    Held();
    AtClose();
    std::stable_sort(all_.begin(), all_.end(), [](const pb::Event& a, const pb::Event& b) {
      return a.time_ms() < b.time_ms();
    });
    std::map<int, uint64_t> seq;
    for (pb::Event& e : all_) {
      const int p = PartitionFor(e.campaign_id(), 2);
      e.set_sequence(++seq[p]);
      parts[p].push_back(e);
    }
  }
  // Partition -> its events, in order.
  std::map<int, std::vector<pb::Event>> parts;

  // Writes it as a data dir's ledger (2 partitions).
  void Write(const std::string& dir) const {
    std::filesystem::create_directories(dir);
    auto db = EmbeddedLogDb::Open(dir + "/log", 2, Limits(), /*read_only=*/false);
    ASSERT_TRUE(db.ok()) << db.status();
    for (const auto& [p, events] : parts) {
      std::vector<LogRecord> records;
      for (const pb::Event& e : events)
        records.push_back({0, e.campaign_id(), e.SerializeAsString()});
      ASSERT_TRUE((*db)->ledger()->Append(p, std::move(records)).ok());
    }
  }

 private:
  pb::Event& Add(const std::string& c, uint64_t t) {
    pb::Event& e = all_.emplace_back();
    e.set_campaign_id(c);
    e.set_time_ms(t);
    return e;
  }
  void Created(const std::string& c, uint64_t t, uint64_t stock, uint32_t win_bps, uint32_t hold_s,
               pb::Draw draw, const std::string& entropy_source) {
    auto* cc = Add(c, t).mutable_campaign_created();
    cc->mutable_config()->set_title(c);
    cc->mutable_config()->set_stock(stock);
    cc->mutable_config()->set_win_bps(win_bps);
    cc->mutable_config()->set_hold_s(hold_s);
    cc->mutable_config()->set_draw(draw);
    cc->mutable_config()->set_entropy_source(entropy_source);
    cc->set_seed_commitment(std::string(32, 'c'));
  }
  void Entered(const std::string& c, uint64_t t, const std::string& u, uint64_t pos) {
    auto* q = Add(c, t).mutable_queue_entered();
    q->set_user_id(u);
    q->set_position(pos);
  }
  void Drawn(const std::string& c, uint64_t t, const std::string& u, uint64_t pos, pb::Outcome o,
             uint64_t stock_left, uint64_t hold_until = 0, uint64_t rank = 0) {
    auto* d = Add(c, t).mutable_draw_resolved();
    d->set_user_id(u);
    d->set_position(pos);
    d->set_outcome(o);
    d->set_draw_value(pos * 0x0123456789abcdefULL);
    d->set_stock_left(stock_left);
    d->set_hold_until_ms(hold_until);
    d->set_waitlist_rank(rank);
  }
  // Entered, admitted and drawn: an instant campaign's entry.
  void Instant(const std::string& c, uint64_t t, const std::string& u, uint64_t pos, pb::Outcome o,
               uint64_t stock_left, uint64_t hold_until = 0) {
    Entered(c, t, u, pos);
    auto* a = Add(c, t).mutable_entry_admitted();
    a->set_position(pos);
    a->set_user_id(u);
    Drawn(c, t, u, pos, o, stock_left, hold_until);
  }
  void Confirmed(const std::string& c, uint64_t t, const std::string& u, uint64_t pos) {
    auto* x = Add(c, t).mutable_entry_confirmed();
    x->set_user_id(u);
    x->set_position(pos);
    x->set_pass_id(c + ":" + std::to_string(pos));
  }
  void Stock(const std::string& c, uint64_t t, pb::StockReason r, uint64_t stock_left) {
    auto* s = Add(c, t).mutable_stock_changed();
    s->set_delta(1);
    s->set_reason(r);
    s->set_stock_left(stock_left);
  }
  void Expired(const std::string& c, uint64_t t, const std::string& u, uint64_t pos,
               uint64_t hold_until, uint64_t stock_left) {
    auto* h = Add(c, t).mutable_hold_expired();
    h->set_user_id(u);
    h->set_position(pos);
    h->set_hold_until_ms(hold_until);
    Stock(c, t, pb::STOCK_HOLD_EXPIRED, stock_left);
  }
  void Cancelled(const std::string& c, uint64_t t, const std::string& u, uint64_t pos,
                 uint64_t stock_left) {
    auto* x = Add(c, t).mutable_entry_cancelled();
    x->set_user_id(u);
    x->set_position(pos);
    Stock(c, t, pb::STOCK_CANCELLATION, stock_left);
  }
  void Promoted(const std::string& c, uint64_t t, const std::string& u, uint64_t pos, uint64_t rank,
                uint64_t hold_until) {
    auto* x = Add(c, t).mutable_entry_promoted();
    x->set_user_id(u);
    x->set_position(pos);
    x->set_waitlist_rank(rank);
    x->set_hold_until_ms(hold_until);
    x->set_stock_left(0);
  }
  void Closed(const std::string& c, uint64_t t, uint64_t entries, char root,
              const std::string& entropy) {
    auto* x = Add(c, t).mutable_campaign_closed();
    x->set_entries(entries);
    x->set_merkle_root(std::string(32, root));
    x->set_merkle_leaves(entries);
    x->set_entropy_value(entropy);
  }

  void Held() {
    const std::string c = "held";
    Created(c, kT0, 2, 10000, 60, pb::DRAW_INSTANT, "");
    Instant(c, kT0 + 1, "u1", 1, pb::OUTCOME_WON, 1, kT0 + 60001);
    Instant(c, kT0 + 2, "u2", 2, pb::OUTCOME_WON, 0, kT0 + 60002);
    Instant(c, kT0 + 3, "u3", 3, pb::OUTCOME_SOLD_OUT, 0);
    Confirmed(c, kT0 + 4, "u1", 1);
    Expired(c, kT0 + 62002, "u2", 2, kT0 + 60002, 1);  // a tick
    Instant(c, kT0 + 62003, "u4", 4, pb::OUTCOME_WON, 0, kT0 + 122003);
    Cancelled(c, kT0 + 62004, "u4", 4, 1);
    auto* r = Add(c, kT0 + 62005).mutable_entry_rejected();  // u2 pays too late
    r->set_user_id("u2");
    r->set_reason(pb::REJECT_HOLD_EXPIRED);
    Closed(c, kT0 + 62006, 4, 'h', "");
  }

  void AtClose() {
    const std::string c = "atclose";
    Created(c, kT0, 2, 8000, 30, pb::DRAW_AT_CLOSE, "drand quicknet round 1234567");
    for (uint64_t p = 1; p <= 6; ++p) Entered(c, kT0 + 10 + p, "u" + std::to_string(p), p);
    const uint64_t t = kT0 + 20;
    Closed(c, t, 6, 'a', "4f2a9c");
    Drawn(c, t, "u1", 1, pb::OUTCOME_WAITLISTED, 2, 0, 2);
    Drawn(c, t, "u2", 2, pb::OUTCOME_WON, 1, t + 30000);
    Drawn(c, t, "u3", 3, pb::OUTCOME_LOST, 1);
    Drawn(c, t, "u4", 4, pb::OUTCOME_WON, 0, t + 30000);
    Drawn(c, t, "u5", 5, pb::OUTCOME_WAITLISTED, 0, 0, 1);
    Drawn(c, t, "u6", 6, pb::OUTCOME_WAITLISTED, 0, 0, 3);
    Confirmed(c, t + 1, "u2", 2);
    Expired(c, t + 30000, "u4", 4, t + 30000, 1);  // a tick at the deadline
    Promoted(c, t + 30000, "u5", 5, 1, t + 60000);
    Cancelled(c, t + 30010, "u5", 5, 1);  // the promoted winner gives it back
    Promoted(c, t + 30010, "u1", 1, 2, t + 60010);
    Stock(c, t + 30020, pb::STOCK_RESTOCK, 1);
    Promoted(c, t + 30020, "u6", 6, 3, t + 60020);
    Confirmed(c, t + 30030, "u1", 1);
    Add(c, t + 30040).mutable_seed_revealed()->set_seed(std::string(32, 's'));
  }

  std::vector<pb::Event> all_;
};

// Applies every partition's events with time_ms <= `until` that `next`
// (partition -> index) has not applied yet, in batches of `sizes` (cycled).
void ApplyUntil(proj::Sink& sink, const HoldsLedger& l, uint64_t until, std::map<int, size_t>* next,
                const std::vector<size_t>& sizes) {
  for (const auto& [p, events] : l.parts) {
    size_t& i = (*next)[p];
    size_t k = 0;
    while (i < events.size() && events[i].time_ms() <= until) {
      std::vector<pb::Event> batch;
      for (size_t n = sizes[k++ % sizes.size()];
           n > 0 && i < events.size() && events[i].time_ms() <= until; --n)
        batch.push_back(events[i++]);
      const proj::Checkpoint from{i - batch.size(), i - batch.size() + 1}, to{i, i + 1};
      ASSERT_TRUE(sink.Apply(p, batch, from, to).ok());
    }
  }
}

std::map<std::string, std::string> RedisHash(proj::RedisConnection& conn, const std::string& key) {
  auto r = conn.Pipeline({{"HGETALL", key}});
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < (*r)[0]->elements; i += 2)
    h[(*r)[0]->element[i]->str] = (*r)[0]->element[i + 1]->str;
  return h;
}

TEST(Projections, HoldsAndTheWaitlistProjectTheSameWhateverTheBatches) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  const HoldsLedger l;
  // The whole ledger in one batch, one event per batch, and uneven batches
  // that cut every answer somewhere.
  const std::vector<std::pair<std::string, std::vector<size_t>>> splits = {
      {"one", {1000}}, {"each", {1}}, {"uneven", {2, 5, 1, 3}}, {"pairs", {2}}, {"odd", {3, 7}}};
  proj::RedisConnection conn(s.redis_options());
  std::map<std::string, Dump> redis;
  std::map<std::string, std::string> pg;
  for (const auto& [name, sizes] : splits) {
    proj::RedisSink r(s.redis_options(), name, false);
    proj::PgSink p({s.pg.url(), name});
    std::vector<proj::Checkpoint> ck;
    ASSERT_TRUE(p.Load(2, &ck).ok());  // migrates
    std::map<int, size_t> nr, np;
    ApplyUntil(r, l, UINT64_MAX, &nr, sizes);
    ApplyUntil(p, l, UINT64_MAX, &np, sizes);
    redis[name] = DumpRedis(conn, "tl:" + name);
    pg[name] = DumpPg(s.pg.url(), name);
  }
  EXPECT_GT(redis["one"].size(), 5u);
  EXPECT_NE(pg["one"].find("atclose:1"), std::string::npos);
  for (const auto& [name, sizes] : splits) {
    EXPECT_EQ(redis[name], redis["one"]) << name;
    EXPECT_EQ(pg[name], pg["one"]) << name;
  }

  // What they hold. Redis: each entry's status, deadline and rank.
  const std::string ns = "tl:one";
  auto held = RedisHash(conn, ns + ":c:held:status");
  EXPECT_EQ(held["u1"], "1|confirmed");
  EXPECT_EQ(held["u2"], absl::StrCat("2|expired|", kT0 + 60002, "|0"));  // not the rejection
  EXPECT_EQ(held["u3"], "3|sold_out");
  EXPECT_EQ(held["u4"], "4|cancelled");
  auto at = RedisHash(conn, ns + ":c:atclose:status");
  EXPECT_EQ(at["u1"], "1|confirmed");
  EXPECT_EQ(at["u2"], "2|confirmed");
  EXPECT_EQ(at["u3"], "3|lost");
  EXPECT_EQ(at["u4"], absl::StrCat("4|expired|", kT0 + 30020, "|0"));
  EXPECT_EQ(at["u5"], "5|cancelled");
  EXPECT_EQ(at["u6"], absl::StrCat("6|won|", kT0 + 60040, "|3"));  // promoted from rank 3
  auto hs = RedisHash(conn, ns + ":c:held:summary");
  EXPECT_EQ(hs["hold_s"], "60");
  EXPECT_EQ(hs.count("draw"), 0u);  // instant
  EXPECT_EQ(hs["won"], "3");
  EXPECT_EQ(hs["confirmed"], "1");
  EXPECT_EQ(hs["expired"], "1");
  EXPECT_EQ(hs["cancelled"], "1");
  EXPECT_EQ(hs["stock_left"], "1");
  EXPECT_EQ(hs["merkle_root"], ToHex(std::string(32, 'h')));
  EXPECT_EQ(hs["merkle_leaves"], "4");
  EXPECT_EQ(hs.count("entropy_value"), 0u);
  auto as = RedisHash(conn, ns + ":c:atclose:summary");
  EXPECT_EQ(as["draw"], "at_close");
  EXPECT_EQ(as["hold_s"], "30");
  EXPECT_EQ(as["entropy_source"], "drand quicknet round 1234567");
  EXPECT_EQ(as["entropy_value"], "4f2a9c");
  EXPECT_EQ(as["won"], "5");  // 2 drawn + 3 promoted, as the engine counts
  EXPECT_EQ(as["waitlisted"], "3");
  EXPECT_EQ(as["promoted"], "3");
  EXPECT_EQ(as["confirmed"], "2");
  EXPECT_EQ(as["expired"], "1");
  EXPECT_EQ(as["cancelled"], "1");
  EXPECT_EQ(as["restocked"], "1");
  EXPECT_EQ(as["lost"], "1");
  EXPECT_EQ(as["stock_left"], "0");
  EXPECT_EQ(as["serving"], "6");  // the at-close draw served everyone
  for (auto* h : {&hs, &as}) {    // stock_left + won - cancelled - expired == stock + restocked
    auto n = [&](const char* f) { return std::stoll((*h)[f]); };
    EXPECT_EQ(n("stock_left") + n("won") - n("cancelled") - n("expired"),
              n("stock") + (h->count("restocked") ? n("restocked") : 0));
  }

  // PostgreSQL: the columns, and the filters.
  proj::PgSink p({s.pg.url(), "one"});
  ASSERT_TRUE(
      p.Read([&](pqxx::work& tx) {
         auto c = tx.exec(
             "SELECT campaign, hold_s, draw, entropy_source, merkle_root, merkle_leaves, "
             "entropy_value, won, confirmed, expired, waitlisted, promoted, stock_left, "
             "serving FROM campaigns ORDER BY campaign");
         ASSERT_EQ(c.size(), 2u);
         EXPECT_EQ(std::string(c[0][0].c_str()), "atclose");
         EXPECT_EQ(c[0][1].as<int>(), 30);
         EXPECT_EQ(std::string(c[0][2].c_str()), "at_close");
         EXPECT_EQ(std::string(c[0][3].c_str()), "drand quicknet round 1234567");
         EXPECT_EQ(std::string(c[0][4].c_str()), ToHex(std::string(32, 'a')));
         EXPECT_EQ(c[0][5].as<int>(), 6);
         EXPECT_EQ(std::string(c[0][6].c_str()), "4f2a9c");
         EXPECT_EQ(c[0][7].as<int>(), 5);
         EXPECT_EQ(c[0][8].as<int>(), 2);
         EXPECT_EQ(c[0][9].as<int>(), 1);
         EXPECT_EQ(c[0][10].as<int>(), 3);
         EXPECT_EQ(c[0][11].as<int>(), 3);
         EXPECT_EQ(c[0][12].as<int>(), 0);
         EXPECT_EQ(c[0][13].as<int>(), 6);
         EXPECT_EQ(std::string(c[1][2].c_str()), "instant");
         EXPECT_TRUE(c[1][6].is_null());
         auto e = tx.exec(
             "SELECT position, outcome, (extract(epoch from hold_until) * 1000)::bigint, "
             "(extract(epoch from confirmed_at) * 1000)::bigint, pass_id, waitlist_rank, "
             "(extract(epoch from promoted_at) * 1000)::bigint, draw_value IS NOT NULL, "
             "(extract(epoch from decided_at) * 1000)::bigint FROM entries WHERE campaign = "
             "'atclose' ORDER BY position");
         ASSERT_EQ(e.size(), 6u);
         // u1: waitlisted at rank 2, promoted, confirmed.
         EXPECT_EQ(std::string(e[0][1].c_str()), "confirmed");
         EXPECT_EQ(e[0][2].as<uint64_t>(), kT0 + 60030);
         EXPECT_EQ(e[0][3].as<uint64_t>(), kT0 + 30050);
         EXPECT_EQ(std::string(e[0][4].c_str()), "atclose:1");
         EXPECT_EQ(e[0][5].as<int>(), 2);
         EXPECT_EQ(e[0][6].as<uint64_t>(), kT0 + 30030);
         EXPECT_TRUE(e[0][7].as<bool>());
         EXPECT_EQ(e[0][8].as<uint64_t>(), kT0 + 30050);
         // u3 lost: no hold, no rank.
         EXPECT_TRUE(e[2][2].is_null());
         EXPECT_TRUE(e[2][5].is_null());
         // u4 expired: its deadline stays.
         EXPECT_EQ(std::string(e[3][1].c_str()), "expired");
         EXPECT_EQ(e[3][2].as<uint64_t>(), kT0 + 30020);
         EXPECT_TRUE(e[3][3].is_null());
         // u6 promoted from rank 3, not confirmed.
         EXPECT_EQ(std::string(e[5][1].c_str()), "won");
         EXPECT_EQ(e[5][5].as<int>(), 3);
         EXPECT_TRUE(e[5][4].is_null());
         auto stock = tx.exec(
             "SELECT campaign, reason, count(*) FROM stock_changes GROUP BY 1, 2 ORDER BY "
             "1, 2");
         std::vector<std::string> got;
         for (const auto& row : stock)
           got.push_back(absl::StrCat(row[0].c_str(), "/", row[1].c_str(), "/", row[2].as<int>()));
         EXPECT_EQ(got, (std::vector<std::string>{"atclose/cancellation/1",
                                                  "atclose/hold_expired/1", "atclose/restock/1",
                                                  "held/cancellation/1", "held/hold_expired/1"}));
       }).ok());
}

TEST(Projections, ReadersShowHoldsConfirmationsAndTheWaitlistMoving) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  const HoldsLedger l;
  proj::RedisSink redis(s.redis_options());
  proj::PgSink pg({s.pg.url(), "ticketledger"});
  std::vector<proj::Checkpoint> ck;
  ASSERT_TRUE(redis.Load(2, &ck).ok());
  ASSERT_TRUE(pg.Load(2, &ck).ok());
  std::map<int, size_t> nr, np;
  auto until = [&](uint64_t t) {
    ApplyUntil(redis, l, t, &nr, {4});
    ApplyUntil(pg, l, t, &np, {4});
  };
  proj::StoreReadModel rm(s.redis_options(), proj::PgOptions{s.pg.url(), "ticketledger"});
  const int part = PartitionFor("atclose", 2);
  auto entry = [&](const std::string& c, const std::string& u) {
    auto v = rm.Entry(PartitionFor(c, 2), 1, c, u);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : api::EntryView{};
  };
  auto waitlist = [&](uint64_t cursor, uint64_t limit) {
    auto w = rm.Waitlist(part, 1, "atclose", cursor, limit);
    EXPECT_TRUE(w.ok()) << w.status();
    std::vector<std::string> out;
    if (!w.ok()) return out;
    for (const auto& i : w->items)
      out.push_back(absl::StrCat(i.user, "@", i.rank, "/", i.drawn_rank, "#", i.position));
    if (w->next_cursor) out.push_back(absl::StrCat("next ", *w->next_cursor));
    return out;
  };
  auto results = [&](const std::string& c, const std::string& outcome) {
    auto r = rm.Results(PartitionFor(c, 2), 1, c, 0, 100, outcome);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& [p, u, st] : r->items) out.push_back(absl::StrCat(p, ":", u, ":", st));
    return out;
  };

  // Open: nothing drawn yet at close time.
  until(kT0 + 19);
  EXPECT_EQ(entry("atclose", "u1").status, "queued");
  EXPECT_TRUE(waitlist(0, 10).empty());
  // Held wins carry their deadline; the confirmed one does not any more.
  EXPECT_EQ(entry("held", "u1").status, "confirmed");
  EXPECT_EQ(entry("held", "u1").hold_until_ms, 0u);
  EXPECT_EQ(entry("held", "u2").status, "won");
  EXPECT_EQ(entry("held", "u2").hold_until_ms, kT0 + 60002);

  // Closed and drawn: the waitlist in rank order, not position order.
  until(kT0 + 20);
  auto u5 = entry("atclose", "u5");
  EXPECT_EQ(u5.status, "waitlisted");
  EXPECT_EQ(u5.waitlist_rank, 1u);
  EXPECT_EQ(u5.position, 5u);
  EXPECT_EQ(entry("atclose", "u1").waitlist_rank, 2u);
  EXPECT_EQ(entry("atclose", "u6").waitlist_rank, 3u);
  EXPECT_EQ(entry("atclose", "u4").hold_until_ms, kT0 + 30020);
  EXPECT_EQ(entry("atclose", "u3").status, "lost");
  EXPECT_EQ(entry("atclose", "u3").serving, 6u);
  EXPECT_EQ(waitlist(0, 10), (std::vector<std::string>{"u5@1/1#5", "u1@2/2#1", "u6@3/3#6"}));
  EXPECT_EQ(waitlist(0, 2), (std::vector<std::string>{"u5@1/1#5", "u1@2/2#1", "next 2"}));
  EXPECT_EQ(waitlist(2, 2), (std::vector<std::string>{"u6@3/3#6"}));
  EXPECT_EQ(results("atclose", "waitlisted"),
            (std::vector<std::string>{"1:u1:waitlisted", "5:u5:waitlisted", "6:u6:waitlisted"}));

  // u4's hold expires: its unit goes to u5, and everyone behind moves up.
  until(kT0 + 30020);
  EXPECT_EQ(entry("atclose", "u4").status, "expired");
  EXPECT_EQ(entry("atclose", "u4").hold_until_ms, 0u);  // only a live hold has one
  u5 = entry("atclose", "u5");
  EXPECT_EQ(u5.status, "won");
  EXPECT_EQ(u5.hold_until_ms, kT0 + 60020);
  EXPECT_EQ(u5.waitlist_rank, 0u);  // off the waitlist
  EXPECT_EQ(entry("atclose", "u1").waitlist_rank, 1u);
  EXPECT_EQ(entry("atclose", "u6").waitlist_rank, 2u);
  EXPECT_EQ(waitlist(0, 10), (std::vector<std::string>{"u1@1/2#1", "u6@2/3#6"}));
  EXPECT_EQ(waitlist(2, 10), (std::vector<std::string>{"u6@2/3#6"}));

  // The rest: u5 gives back, u1 promoted and confirmed, a restock for u6.
  until(UINT64_MAX);
  EXPECT_TRUE(waitlist(0, 10).empty());
  EXPECT_EQ(entry("atclose", "u1").status, "confirmed");
  EXPECT_EQ(entry("atclose", "u6").status, "won");
  EXPECT_EQ(entry("atclose", "u6").hold_until_ms, kT0 + 60040);
  EXPECT_EQ(entry("held", "u2").status, "expired");  // the late confirmation did not overwrite it
  EXPECT_EQ(results("atclose", "confirmed"),
            (std::vector<std::string>{"1:u1:confirmed", "2:u2:confirmed"}));
  EXPECT_EQ(results("held", "confirmed"), (std::vector<std::string>{"1:u1:confirmed"}));
  EXPECT_EQ(results("held", "expired"), (std::vector<std::string>{"2:u2:expired"}));
  EXPECT_EQ(results("atclose", "").size(), 6u);
  // The ranking names the statuses without the details.
  auto ranking = rm.Ranking(part, 1, "atclose", 0, 10);
  ASSERT_TRUE(ranking.ok()) << ranking.status();
  ASSERT_EQ(ranking->items.size(), 6u);
  EXPECT_EQ(std::get<2>(ranking->items[3]), "expired");
  EXPECT_EQ(std::get<2>(ranking->items[5]), "won");

  // The waitlist query uses its index.
  ASSERT_TRUE(pg.Read([](pqxx::work& tx) {
                  tx.exec("SET LOCAL enable_seqscan = off");
                  auto plan = tx.exec(
                      "EXPLAIN SELECT waitlist_rank, position, user_id FROM entries WHERE "
                      "campaign = 'atclose' AND outcome = 'waitlisted' AND waitlist_rank > 0 "
                      "ORDER BY waitlist_rank LIMIT 10");
                  std::string text;
                  for (const auto& row : plan) text += std::string(row[0].c_str()) + "\n";
                  EXPECT_NE(text.find("entries_waitlist"), std::string::npos) << text;
                }).ok());
}

// `ticketctl rebuild` of a ledger with issue 14's events equals a clean
// projection, both stores, whole and one campaign; the live copy was
// projected in small batches.
TEST(Projections, RebuildOfHoldsAndTheWaitlistEqualsACleanProjection) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  HoldsLedger().Write(dir.Sub("node"));
  {
    auto db = EmbeddedLogDb::Open(dir.Sub("node") + "/log", 2, Limits(), true);
    ASSERT_TRUE(db.ok());
    proj::ProjectorOptions small;
    small.batch_records = 3;
    proj::RedisSink redis(s.redis_options());
    proj::PgSink pg({s.pg.url(), "ticketledger"});
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis, small).RunToEnd().ok());
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg, small).RunToEnd().ok());
  }
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);  // small batches equal one big one
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> base = {"--data-dir", dir.Sub("node"), "--partitions", "2", "rebuild"};
    base.insert(base.end(), args.begin(), args.end());
    return TicketdProcess(TL_TICKETCTL, base, {}, "^(.)", /*merge_stderr=*/true).Kill(0);
  };
  const std::string before = CurrentNs(s);
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url()}), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url()}), 0);
  EXPECT_NE(CurrentNs(s), before);
  ExpectEqualToClean(s);
  // The at-close campaign damaged in both stores, rebuilt alone.
  proj::RedisConnection conn(s.redis_options());
  const std::string live = "tl:" + CurrentNs(s);
  ASSERT_TRUE(conn.Pipeline({{"HSET", live + ":c:atclose:status", "u6", "6|waitlisted|0|3"},
                             {"HDEL", live + ":c:atclose:summary", "promoted"}})
                  .ok());
  proj::PgSink pg({s.pg.url(), "ticketledger"});
  ASSERT_TRUE(pg.Read([](pqxx::work& tx) {
                  tx.exec(
                      "UPDATE entries SET outcome = 'waitlisted', promoted_at = NULL WHERE "
                      "campaign = 'atclose'");
                  tx.exec(
                      "UPDATE campaigns SET merkle_root = NULL, confirmed = 0 WHERE campaign = "
                      "'atclose'");
                  tx.commit();
                }).ok());
  EXPECT_NE(DumpRedis(conn, live), DumpRedis(conn, "tl:clean"));
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url(), "--campaign", "atclose"}), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url(), "--campaign", "atclose"}), 0);
  ExpectEqualToClean(s);
}

// A read model created before issue 14 (migration 1 only, with rows) is
// upgraded in place: old rows read as no hold, instant draw, no waitlist.
TEST(Projections, AnOlderPostgresSchemaIsUpgradedInPlace) {
  TempDir dir;
  PostgresServer server(dir.path());
  ASSERT_TRUE(server.ok());
  proj::PgSink pg({server.url(), "old"});
  const proj::Migration& first = proj::Migrations().at(0);
  ASSERT_EQ(first.version, 1);
  ASSERT_TRUE(pg.Read([&](pqxx::work& tx) {
                  tx.exec("CREATE SCHEMA old");
                  tx.exec(absl::StrReplaceAll(first.sql, {{"{{schema}}", "old"}}));
                  tx.exec(
                      "CREATE TABLE public.ticketledger_migrations (schema_name text NOT NULL, "
                      "version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT "
                      "NULL DEFAULT now(), PRIMARY KEY (schema_name, version))");
                  tx.exec("INSERT INTO public.ticketledger_migrations VALUES ('old', 1, '" +
                          std::string(first.name) + "', now())");
                  tx.exec(
                      "INSERT INTO old.campaigns (campaign, ledger_partition, last_sequence, won) "
                      "VALUES ('c', 0, 9, 4)");
                  tx.exec(
                      "INSERT INTO old.entries (campaign, position, user_id, outcome, entered_at, "
                      "ledger_partition, entered_sequence) VALUES ('c', 1, 'alice', 'won', now(), "
                      "0, 2)");
                  tx.commit();
                }).ok());
  std::vector<proj::Checkpoint> ck;
  ASSERT_TRUE(pg.Load(2, &ck).ok());  // applies the rest
  ASSERT_TRUE(pg.Read([](pqxx::work& tx) {
                  auto c = tx.exec(
                      "SELECT won, hold_s, draw, entropy_source, merkle_root, confirmed, "
                      "promoted FROM campaigns");
                  ASSERT_EQ(c.size(), 1u);
                  EXPECT_EQ(c[0][0].as<int>(), 4);
                  EXPECT_EQ(c[0][1].as<int>(), 0);
                  EXPECT_EQ(std::string(c[0][2].c_str()), "instant");
                  EXPECT_EQ(std::string(c[0][3].c_str()), "");
                  EXPECT_TRUE(c[0][4].is_null());
                  EXPECT_EQ(c[0][5].as<int>(), 0);
                  EXPECT_EQ(c[0][6].as<int>(), 0);
                  auto e = tx.exec("SELECT outcome, hold_until, waitlist_rank FROM entries");
                  EXPECT_EQ(std::string(e[0][0].c_str()), "won");
                  EXPECT_TRUE(e[0][1].is_null());
                  EXPECT_TRUE(e[0][2].is_null());
                  auto versions = tx.exec(
                      "SELECT count(*) FROM public.ticketledger_migrations WHERE schema_name = "
                      "'old'");
                  EXPECT_EQ(versions[0][0].as<size_t>(), proj::Migrations().size());
                }).ok());
}

// --- Issue 14 from the engine itself: a ledger written by decide/fold.

// A single-node data dir whose ledger the engine wrote from commands:
// "hold", an instant lottery with a 60 s hold (confirmations, a pass that
// is not the entry's, cancellations, expiries by tick, later entries winning
// the units that came back, a confirmation too late); "drop", an at-close
// draw with a 30 s hold and committed entropy (confirmations, releases,
// expiries and a restock, each unit promoted to the waitlist's head, over
// several rounds). Confirmations and cancellations go to every n-th user:
// the engine decides which are standing wins.
void MakeHoldsLedger(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 2;
  o.config.seed_secret = kSeedSecret;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status();
  (*node)->engine().Start();
  auto submit = [&](const std::string& campaign, uint64_t t, auto fill) {
    pb::Command c;
    c.set_campaign_id(campaign);
    c.set_time_ms(t);
    fill(c);
    ASSERT_TRUE((*node)->Submit(c).ok());
  };
  auto confirm = [&](const std::string& campaign, uint64_t t, int i, uint64_t position) {
    submit(campaign, t, [&](pb::Command& c) {
      c.mutable_confirm_entry()->set_user_id(campaign + std::to_string(i));
      c.mutable_confirm_entry()->set_pass_id(campaign + ":" + std::to_string(position));
    });
  };
  auto cancel = [&](const std::string& campaign, uint64_t t, int i) {
    submit(campaign, t, [&](pb::Command& c) {
      c.mutable_cancel_entry()->set_user_id(campaign + std::to_string(i));
    });
  };
  auto tick = [&](const std::string& campaign, uint64_t t) {
    submit(campaign, t, [](pb::Command& c) { c.mutable_tick(); });
  };
  auto enter = [&](const std::string& campaign, uint64_t t, int i) {
    submit(campaign, t, [&](pb::Command& c) {
      c.mutable_request_entry()->set_user_id(campaign + std::to_string(i));
    });
  };
  const uint64_t t = kT0;

  submit("hold", t, [](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_stock(40);
    cc->set_win_bps(5000);
    cc->set_hold_s(60);
  });
  for (int i = 0; i < 100; ++i) enter("hold", t + 1 + i, i);
  for (int i = 0; i < 100; i += 3) confirm("hold", t + 200 + i, i, i + 1);
  for (int i = 1; i < 100; i += 7) cancel("hold", t + 300 + i, i);
  confirm("hold", t + 400, 2, 999);  // not this entry's pass
  tick("hold", t + 70000);           // every unconfirmed hold has passed
  for (int i = 100; i < 150; ++i) enter("hold", t + 70001 + i, i);
  for (int i = 100; i < 150; i += 2) confirm("hold", t + 70200 + i, i, i + 1);
  submit("hold", t + 80000, [](pb::Command& c) { c.mutable_close_campaign(); });
  tick("hold", t + 200000);
  for (int i = 101; i < 150; i += 2) confirm("hold", t + 200001 + i, i, i + 1);  // too late
  submit("hold", t + 300000, [](pb::Command& c) { c.mutable_reveal_seed(); });

  submit("drop", t, [](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_stock(30);
    cc->set_win_bps(7000);
    cc->set_hold_s(30);
    cc->set_draw(pb::DRAW_AT_CLOSE);
    cc->set_entropy_source("drand quicknet round 1234567");
  });
  for (int i = 0; i < 300; ++i) enter("drop", t + 1 + i, i);
  submit("drop", t + 1000,
         [](pb::Command& c) { c.mutable_close_campaign()->set_entropy_value("8f3e0c41d2"); });
  for (int i = 0; i < 300; i += 4) confirm("drop", t + 1001, i, i + 1);
  for (int i = 2; i < 300; i += 9) cancel("drop", t + 1002, i);
  tick("drop", t + 40000);  // the draw's unconfirmed holds expire: promotions
  submit("drop", t + 40001, [](pb::Command& c) { c.mutable_restock()->set_units(5); });
  for (int i = 1; i < 300; i += 4) confirm("drop", t + 40002, i, i + 1);
  for (uint64_t k = 1; k <= 4; ++k) tick("drop", t + 40000 + k * 31000);  // more rounds
  submit("drop", t + 400000, [](pb::Command& c) { c.mutable_reveal_seed(); });

  for (int p = 0; p < 2; ++p) {
    uint64_t end = *(*node)->log().commands()->EndOffset(p);
    ASSERT_TRUE((*node)->engine().WaitForCommands(p, end, absl::Seconds(60)).ok());
  }
  (*node)->engine().Stop();
}

TEST(Projections, EngineWrittenHoldsAndWaitlistProjectAsTheEngineFolds) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeHoldsLedger(dir.Sub("node"));
  {
    auto db = EmbeddedLogDb::Open(dir.Sub("node") + "/log", 2, Limits(), true);
    ASSERT_TRUE(db.ok());
    proj::ProjectorOptions small;
    small.batch_records = 7;  // answers cut anywhere
    proj::RedisSink redis(s.redis_options());
    proj::PgSink pg({s.pg.url(), "ticketledger"});
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis, small).RunToEnd().ok());
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg, small).RunToEnd().ok());
  }
  {
    NodeOptions o;
    o.data_dir = dir.Sub("node");
    o.partitions = 2;
    o.config.seed_secret = kSeedSecret;
    auto node = Node::Open(o);
    ASSERT_TRUE(node.ok()) << node.status();
    proj::RedisConnection conn(s.redis_options());
    const std::string ns = "tl:" + CurrentNs(s);
    proj::StoreReadModel rm(s.redis_options(), proj::PgOptions{s.pg.url(), "ticketledger"});
    proj::PgSink pg({s.pg.url(), "ticketledger"});
    for (const char* id : {"hold", "drop"}) {
      const int p = PartitionFor(id, 2);
      const CampaignState* cs = (*node)->engine().partition(p).state().Find(id);
      ASSERT_NE(cs, nullptr);
      const auto& snap = cs->snap;
      // The ledger holds every kind of event this test is about.
      EXPECT_GT(snap.confirmed(), 0u) << id;
      EXPECT_GT(snap.expired(), 0u) << id;
      EXPECT_GT(snap.cancelled(), 0u) << id;
      if (std::string(id) == "drop") {
        EXPECT_GT(snap.waitlisted(), snap.promoted()) << "a waitlist is left";
        EXPECT_GT(snap.promoted(), 5u);
      }
      auto h = RedisHash(conn, ns + ":c:" + id + ":summary");
      auto n = [&](const char* f) { return h.count(f) ? std::stoull(h[f]) : 0; };
      EXPECT_EQ(n("won"), snap.won()) << id;
      EXPECT_EQ(n("lost"), snap.lost()) << id;
      EXPECT_EQ(n("sold_out"), snap.sold_out()) << id;
      EXPECT_EQ(n("cancelled"), snap.cancelled()) << id;
      EXPECT_EQ(n("confirmed"), snap.confirmed()) << id;
      EXPECT_EQ(n("expired"), snap.expired()) << id;
      EXPECT_EQ(n("waitlisted"), snap.waitlisted()) << id;
      EXPECT_EQ(n("promoted"), snap.promoted()) << id;
      EXPECT_EQ(n("restocked"), snap.restocked()) << id;
      EXPECT_EQ(n("stock_left"), snap.stock_left()) << id;
      EXPECT_EQ(n("serving"), snap.serving()) << id;
      EXPECT_EQ(n("entries"), snap.last_position()) << id;
      EXPECT_EQ(h["merkle_root"], ToHex(snap.merkle_root())) << id;
      EXPECT_EQ(n("merkle_leaves"), snap.merkle_leaves()) << id;
      // Every entry through the reader: status, live hold, current rank.
      std::map<uint64_t, uint64_t> rank_of;  // position -> current rank
      for (size_t r = snap.promoted(); r < cs->waitlist.size(); ++r)
        rank_of[cs->waitlist[r]] = r + 1 - snap.promoted();
      std::map<std::string, uint64_t> by_status;
      for (uint64_t pos = 1; pos <= snap.last_position(); ++pos) {
        auto v = rm.Entry(p, 1, id, cs->user_at(pos));
        ASSERT_TRUE(v.ok()) << v.status();
        const EntryStatus st = cs->status[pos - 1];
        by_status[EntryStatusName(st)]++;
        EXPECT_EQ(v->position, pos);
        EXPECT_EQ(v->status, EntryStatusName(st)) << id << " " << pos;
        // The fold's live hold; none for any other status.
        EXPECT_EQ(v->hold_until_ms, st == EntryStatus::kWon ? cs->HoldOf(pos) : 0)
            << id << " " << pos;
        EXPECT_EQ(v->waitlist_rank, rank_of.count(pos) ? rank_of[pos] : 0) << id << " " << pos;
      }
      // PostgreSQL: the same statuses, the confirmed and the waitlist.
      ASSERT_TRUE(pg.Read([&](pqxx::work& tx) {
                      auto rows = tx.exec_params(
                          "SELECT outcome, count(*) FROM entries WHERE campaign = $1 GROUP BY 1",
                          std::string(id));
                      std::map<std::string, uint64_t> got;
                      for (const auto& row : rows)
                        got[row[0].is_null() ? "queued" : row[0].c_str()] = row[1].as<uint64_t>();
                      EXPECT_EQ(got, by_status) << id;
                      auto c = tx.exec_params(
                          "SELECT confirmed, expired, waitlisted, promoted, won, stock_left, "
                          "merkle_root FROM campaigns WHERE campaign = $1",
                          std::string(id));
                      EXPECT_EQ(c[0][0].as<uint64_t>(), snap.confirmed());
                      EXPECT_EQ(c[0][1].as<uint64_t>(), snap.expired());
                      EXPECT_EQ(c[0][2].as<uint64_t>(), snap.waitlisted());
                      EXPECT_EQ(c[0][3].as<uint64_t>(), snap.promoted());
                      EXPECT_EQ(c[0][4].as<uint64_t>(), snap.won());
                      EXPECT_EQ(c[0][5].as<uint64_t>(), snap.stock_left());
                      EXPECT_EQ(std::string(c[0][6].c_str()), ToHex(snap.merkle_root()));
                    }).ok());
      auto confirmed = rm.Results(p, 1, id, 0, 1000, kConfirmed);
      ASSERT_TRUE(confirmed.ok());
      EXPECT_EQ(confirmed->items.size(), snap.confirmed()) << id;
      auto w = rm.Waitlist(p, 1, id, 0, 1000);
      ASSERT_TRUE(w.ok()) << w.status();
      std::vector<uint64_t> want(
          cs->waitlist.begin() + std::min<size_t>(snap.promoted(), cs->waitlist.size()),
          cs->waitlist.end()),
          got;
      for (const auto& item : w->items) got.push_back(item.position);
      EXPECT_EQ(got, want) << id;
    }
  }
  // And a rebuild of each store equals a clean projection of this ledger.
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> base = {"--data-dir", dir.Sub("node"), "--partitions", "2", "rebuild"};
    base.insert(base.end(), args.begin(), args.end());
    return TicketdProcess(TL_TICKETCTL, base, {}, "^(.)", /*merge_stderr=*/true).Kill(0);
  };
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url()}), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url()}), 0);
  ExpectEqualToClean(s);
}

// --- Issue 15 from the engine itself: items, quantities and choices.

// A single-node data dir whose ledger the engine wrote: "sizes", items
// chosen at entry with quantities (sold out when the whole quantity does not
// fit), confirmations, give-backs, hold expiries and a per-item restock;
// "popup", choosing on admission (choices, a refused choice of a full slot,
// expiries by tick and the places going to the next); "slots", an at-close
// draw per item with waitlists, promotions after expiries, a give-back and a
// per-item restock. Users are "<campaign><i>", positions in entry order.
void MakeItemsLedger(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 2;
  o.config.seed_secret = kSeedSecret;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status();
  (*node)->engine().Start();
  auto submit = [&](const std::string& campaign, uint64_t t, auto fill) {
    pb::Command c;
    c.set_campaign_id(campaign);
    c.set_time_ms(t);
    fill(c);
    ASSERT_TRUE((*node)->Submit(c).ok());
  };
  auto user = [](const std::string& c, int i) { return c + std::to_string(i); };
  auto create = [&](const std::string& c, std::vector<std::pair<std::string, uint64_t>> items,
                    auto more) {
    submit(c, kT0, [&](pb::Command& cmd) {
      auto* cc = cmd.mutable_create_campaign();
      cc->set_win_bps(10000);
      for (const auto& [id, stock] : items) {
        pb::Item* item = cc->add_items();
        item->set_id(id);
        item->set_label("label " + id);
        item->set_stock(stock);
      }
      more(cc);
    });
  };
  auto enter = [&](const std::string& c, uint64_t t, int i, const std::string& item, uint32_t q) {
    submit(c, t, [&](pb::Command& cmd) {
      cmd.mutable_request_entry()->set_user_id(user(c, i));
      cmd.mutable_request_entry()->set_item_id(item);
      cmd.mutable_request_entry()->set_quantity(q);
    });
  };
  auto confirm = [&](const std::string& c, uint64_t t, int i) {
    submit(c, t, [&](pb::Command& cmd) {
      cmd.mutable_confirm_entry()->set_user_id(user(c, i));
      cmd.mutable_confirm_entry()->set_pass_id(c + ":" + std::to_string(i + 1));
    });
  };
  auto cancel = [&](const std::string& c, uint64_t t, int i) {
    submit(c, t, [&](pb::Command& cmd) { cmd.mutable_cancel_entry()->set_user_id(user(c, i)); });
  };
  auto choose = [&](const std::string& c, uint64_t t, int i, const std::string& item, uint32_t q) {
    submit(c, t, [&](pb::Command& cmd) {
      cmd.mutable_choose_item()->set_user_id(user(c, i));
      cmd.mutable_choose_item()->set_item_id(item);
      cmd.mutable_choose_item()->set_quantity(q);
    });
  };
  auto tick = [&](const std::string& c, uint64_t t) {
    submit(c, t, [](pb::Command& cmd) { cmd.mutable_tick(); });
  };
  auto restock = [&](const std::string& c, uint64_t t, const std::string& item, uint64_t units) {
    submit(c, t, [&](pb::Command& cmd) {
      cmd.mutable_restock()->set_units(units);
      cmd.mutable_restock()->set_item_id(item);
    });
  };
  const uint64_t t = kT0;

  create("sizes", {{"s", 6}, {"m", 5}, {"l", 4}}, [](pb::CreateCampaign* cc) {
    cc->set_per_user_max(3);
    cc->set_hold_s(60);
  });
  const std::vector<std::string> sizes = {"s", "m", "l"};
  for (int i = 0; i < 30; ++i) enter("sizes", t + 1 + i, i, sizes[i % 3], 1 + i % 3);
  for (int i = 0; i < 30; i += 4) confirm("sizes", t + 100 + i, i);
  for (int i = 1; i < 30; i += 5) cancel("sizes", t + 200 + i, i);
  tick("sizes", t + 70000);  // every unconfirmed hold has passed
  restock("sizes", t + 70001, "m", 3);
  for (int i = 30; i < 40; ++i) enter("sizes", t + 70002 + i, i, sizes[i % 3], 1 + i % 2);
  for (int i = 30; i < 40; i += 3) confirm("sizes", t + 70100 + i, i);
  enter("sizes", t + 70200, 99, "xl", 1);  // refused: no such item
  enter("sizes", t + 70201, 98, "s", 4);   // refused: over the maximum

  create("popup", {{"14-00", 3}, {"14-30", 2}}, [](pb::CreateCampaign* cc) {
    cc->set_per_user_max(2);
    cc->set_choose(pb::CHOOSE_ON_ADMISSION);
    cc->set_choose_s(30);
  });
  for (int i = 0; i < 10; ++i) enter("popup", t + 1 + i, i, "", 0);
  choose("popup", t + 100, 1, "14-30", 2);
  choose("popup", t + 101, 0, "14-30", 1);  // full: refused, may choose again
  choose("popup", t + 102, 0, "14-00", 1);
  tick("popup", t + 40000);  // the others' deadlines pass: the next are admitted
  choose("popup", t + 40001, 3, "14-00", 2);
  choose("popup", t + 40002, 4, "14-00", 1);  // full by now
  tick("popup", t + 80000);

  create("slots", {{"a", 3}, {"b", 4}}, [](pb::CreateCampaign* cc) {
    cc->set_per_user_max(2);
    cc->set_win_bps(8000);
    cc->set_hold_s(30);
    cc->set_draw(pb::DRAW_AT_CLOSE);
  });
  for (int i = 0; i < 24; ++i) enter("slots", t + 1 + i, i, i % 2 ? "a" : "b", 1 + i % 2);
  submit("slots", t + 1000, [](pb::Command& c) { c.mutable_close_campaign(); });
  for (int i = 0; i < 24; i += 3) confirm("slots", t + 1001, i);
  for (int i = 1; i < 24; i += 5) cancel("slots", t + 1002, i);
  tick("slots", t + 40000);  // unconfirmed holds expire: promotions per item
  restock("slots", t + 40001, "b", 2);
  restock("slots", t + 40002, "a", 1);
  submit("slots", t + 50000, [](pb::Command& c) { c.mutable_reveal_seed(); });

  for (int p = 0; p < 2; ++p) {
    uint64_t end = *(*node)->log().commands()->EndOffset(p);
    ASSERT_TRUE((*node)->engine().WaitForCommands(p, end, absl::Seconds(60)).ok());
  }
  (*node)->engine().Stop();
}

// A data dir's ledger, partition -> its events in order.
std::map<int, std::vector<pb::Event>> ReadLedger(const std::string& dir) {
  std::map<int, std::vector<pb::Event>> out;
  auto db = EmbeddedLogDb::Open(dir + "/log", 2, Limits(), /*read_only=*/true);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return out;
  for (int p = 0; p < 2; ++p) {
    const uint64_t end = *(*db)->ledger()->EndOffset(p);
    std::vector<LogRecord> records;
    for (uint64_t at = 0; at < end; at += records.size()) {
      EXPECT_TRUE((*db)->ledger()->Read(p, at, 1000, &records).ok());
      if (records.empty()) break;
      for (const LogRecord& r : records) {
        pb::Event e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        out[p].push_back(std::move(e));
      }
    }
  }
  return out;
}

TEST(Projections, EngineWrittenItemsProjectAsTheEngineFoldsWhateverTheBatches) {
  TempDir dir;
  Stores s(dir);
  ASSERT_TRUE(s.redis.ok());
  ASSERT_TRUE(s.pg.ok());
  MakeItemsLedger(dir.Sub("node"));
  {
    auto db = EmbeddedLogDb::Open(dir.Sub("node") + "/log", 2, Limits(), true);
    ASSERT_TRUE(db.ok());
    proj::ProjectorOptions small;
    small.batch_records = 7;  // answers cut anywhere
    proj::RedisSink redis(s.redis_options());
    proj::PgSink pg({s.pg.url(), "ticketledger"});
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &redis, small).RunToEnd().ok());
    ASSERT_TRUE(proj::Projector((*db)->ledger(), &pg, small).RunToEnd().ok());
  }
  {
    NodeOptions o;
    o.data_dir = dir.Sub("node");
    o.partitions = 2;
    o.config.seed_secret = kSeedSecret;
    auto node = Node::Open(o);
    ASSERT_TRUE(node.ok()) << node.status();
    proj::RedisConnection conn(s.redis_options());
    const std::string ns = "tl:" + CurrentNs(s);
    proj::StoreReadModel rm(s.redis_options(), proj::PgOptions{s.pg.url(), "ticketledger"});
    proj::PgSink pg({s.pg.url(), "ticketledger"});
    for (const char* id : {"sizes", "popup", "slots"}) {
      const int p = PartitionFor(id, 2);
      const CampaignState* cs = (*node)->engine().partition(p).state().Find(id);
      ASSERT_NE(cs, nullptr);
      const auto& snap = cs->snap;
      auto h = RedisHash(conn, ns + ":c:" + id + ":summary");
      auto n = [&](const char* f) { return h.count(f) ? std::stoull(h[f]) : 0; };
      for (auto [f, want] : {std::pair{"won", snap.won()},
                             {"sold_out", snap.sold_out()},
                             {"cancelled", snap.cancelled()},
                             {"confirmed", snap.confirmed()},
                             {"expired", snap.expired()},
                             {"waitlisted", snap.waitlisted()},
                             {"promoted", snap.promoted()},
                             {"restocked", snap.restocked()},
                             {"stock_left", snap.stock_left()},
                             {"serving", snap.serving()},
                             {"entries", snap.last_position()},
                             {"admitted_choosing", snap.admitted_choosing()},
                             {"chosen", snap.chosen()},
                             {"choices_expired", snap.choices_expired()}})
        EXPECT_EQ(n(f), want) << id << " " << f;
      // The items: places left and every counter, as the engine has them.
      auto items = rm.Items(p, 1, id);
      ASSERT_TRUE(items.ok()) << items.status();
      ASSERT_EQ(items->items.size(), cs->items()) << id;
      EXPECT_EQ(items->admitted_choosing, snap.admitted_choosing());
      EXPECT_EQ(items->chosen, snap.chosen());
      EXPECT_EQ(items->choices_expired, snap.choices_expired());
      uint64_t taken_total = 0, returned_total = 0, promoted_total = 0;
      for (size_t i = 0; i < cs->items(); ++i) {
        const auto& want = snap.items(static_cast<int>(i));
        const auto& got = items->items[i];
        const auto& cfg = snap.config().items(static_cast<int>(i));
        EXPECT_EQ(got.id, cfg.id());
        EXPECT_EQ(got.label, cfg.label());
        EXPECT_EQ(got.stock, cfg.stock());
        EXPECT_EQ(got.stock_left, want.stock_left()) << id << " " << got.id;
        EXPECT_EQ(got.taken, want.taken()) << id << " " << got.id;
        EXPECT_EQ(got.returned, want.returned()) << id << " " << got.id;
        EXPECT_EQ(got.restocked, want.restocked()) << id << " " << got.id;
        EXPECT_EQ(got.confirmed, want.confirmed()) << id << " " << got.id;
        EXPECT_EQ(got.waitlisted, want.waitlisted()) << id << " " << got.id;
        EXPECT_EQ(got.promoted, want.promoted()) << id << " " << got.id;
        EXPECT_EQ(got.stock_left + got.taken - got.returned, got.stock + got.restocked);
        taken_total += want.taken();
        returned_total += want.returned();
        promoted_total += want.promoted();
      }
      // The ledger holds every kind of event this test is about.
      EXPECT_GT(taken_total, 0u) << id;
      if (std::string(id) == "sizes") {
        EXPECT_GT(snap.sold_out(), 0u);
        EXPECT_GT(snap.expired(), 0u);
        EXPECT_GT(returned_total, 0u);
      }
      if (std::string(id) == "popup") {
        EXPECT_GT(snap.chosen(), 1u);
        EXPECT_GT(snap.choices_expired(), 0u);
      }
      if (std::string(id) == "slots") {
        EXPECT_GT(promoted_total, 1u);
      }
      // Every entry through the reader: status, item, quantity, deadlines,
      // its item's waitlist rank.
      std::map<std::string, uint64_t> by_status;
      std::map<std::string, std::map<std::string, uint64_t>> booked;  // item -> outcome -> n
      for (uint64_t pos = 1; pos <= snap.last_position(); ++pos) {
        auto v = rm.Entry(p, 1, id, cs->user_at(pos));
        ASSERT_TRUE(v.ok()) << v.status();
        const EntryStatus st = cs->status[pos - 1];
        by_status[EntryStatusName(st)]++;
        EXPECT_EQ(v->position, pos);
        EXPECT_EQ(v->status, EntryStatusName(st)) << id << " " << pos;
        const bool has_item = !(cs->item_of.empty() || cs->item_of[pos - 1] == 0);
        const std::string item =
            has_item ? snap.config().items(static_cast<int>(cs->ItemAt(pos))).id() : "";
        EXPECT_EQ(v->item_id, item) << id << " " << pos;
        EXPECT_EQ(v->quantity, has_item ? cs->QuantityAt(pos) : 0) << id << " " << pos;
        auto until = cs->choose_until.find(pos);
        EXPECT_EQ(v->choose_until_ms, until == cs->choose_until.end() ? 0 : until->second);
        EXPECT_EQ(v->hold_until_ms, st == EntryStatus::kWon ? cs->HoldOf(pos) : 0);
        if (st == EntryStatus::kWaitlisted) {
          const size_t i = cs->ItemAt(pos);
          const auto& list = cs->WaitlistOf(i);
          const auto at = std::find(list.begin(), list.end(), pos) - list.begin();
          EXPECT_EQ(v->waitlist_rank, static_cast<uint64_t>(at) + 1 - cs->PromotedOf(i))
              << id << " " << pos;
        }
        if (st != EntryStatus::kQueued && has_item) booked[item][EntryStatusName(st)]++;
      }
      // PostgreSQL: the items table, the entries' items and the filters.
      ASSERT_TRUE(
          pg.Read([&](pqxx::work& tx) {
              auto rows = tx.exec_params(
                  "SELECT item_id, stock_left, taken, returned, restocked, confirmed, "
                  "waitlisted, promoted FROM items WHERE campaign = $1 ORDER BY ordinal",
                  std::string(id));
              ASSERT_EQ(rows.size(), cs->items());
              for (size_t i = 0; i < cs->items(); ++i) {
                const auto& want = snap.items(static_cast<int>(i));
                EXPECT_EQ(rows[i][1].as<uint64_t>(), want.stock_left());
                EXPECT_EQ(rows[i][2].as<uint64_t>(), want.taken());
                EXPECT_EQ(rows[i][3].as<uint64_t>(), want.returned());
                EXPECT_EQ(rows[i][4].as<uint64_t>(), want.restocked());
                EXPECT_EQ(rows[i][5].as<uint64_t>(), want.confirmed()) << id << " " << i;
                EXPECT_EQ(rows[i][6].as<uint64_t>(), want.waitlisted());
                EXPECT_EQ(rows[i][7].as<uint64_t>(), want.promoted());
              }
              auto c = tx.exec_params(
                  "SELECT admitted_choosing, chosen, choices_expired, stock_left, stock, "
                  "choose FROM campaigns WHERE campaign = $1",
                  std::string(id));
              EXPECT_EQ(c[0][0].as<uint64_t>(), snap.admitted_choosing());
              EXPECT_EQ(c[0][1].as<uint64_t>(), snap.chosen());
              EXPECT_EQ(c[0][2].as<uint64_t>(), snap.choices_expired());
              EXPECT_EQ(c[0][3].as<uint64_t>(), snap.stock_left());
              EXPECT_EQ(std::string(c[0][5].c_str()), ChooseName(snap.config().choose()));
              auto q = tx.exec_params(
                  "SELECT count(*) FILTER (WHERE outcome = 'admitted' AND choose_until IS NOT "
                  "NULL), count(*) FILTER (WHERE item_id IS NOT NULL AND quantity >= 1) FROM "
                  "entries WHERE campaign = $1",
                  std::string(id));
              EXPECT_EQ(q[0][0].as<uint64_t>(), snap.admitted_choosing());
              uint64_t with_item = 0;
              for (const auto& [item, outcomes] : booked)
                for (const auto& [o, k] : outcomes) with_item += k;
              EXPECT_GE(q[0][1].as<uint64_t>(), with_item);
            }).ok());
      for (const auto& [item, outcomes] : booked) {
        for (const auto& [outcome, k] : outcomes) {
          auto r = rm.Results(p, 1, id, 0, 1000, outcome, item);
          ASSERT_TRUE(r.ok()) << r.status();
          EXPECT_EQ(r->items.size(), k) << id << " " << item << " " << outcome;
        }
      }
      // Each item's waitlist, in its own rank order.
      for (size_t i = 0; i < cs->items() && cs->at_close(); ++i) {
        const std::string item = snap.config().items(static_cast<int>(i)).id();
        auto w = rm.Waitlist(p, 1, id, 0, 1000, item);
        ASSERT_TRUE(w.ok()) << w.status();
        const auto& list = cs->WaitlistOf(i);
        std::vector<uint64_t> want(list.begin() + std::min<size_t>(cs->PromotedOf(i), list.size()),
                                   list.end()),
            got;
        for (const auto& x : w->items) got.push_back(x.position);
        EXPECT_EQ(got, want) << id << " " << item;
      }
    }
    // "Who booked slot X" uses its index.
    ASSERT_TRUE(pg.Read([](pqxx::work& tx) {
                    tx.exec("SET LOCAL enable_seqscan = off");
                    auto plan = tx.exec(
                        "EXPLAIN SELECT position, user_id, outcome FROM entries WHERE campaign = "
                        "'popup' AND position > 0 AND outcome IS NOT NULL AND outcome = 'won' AND "
                        "item_id = '14-00' ORDER BY position LIMIT 10");
                    std::string text;
                    for (const auto& row : plan) text += std::string(row[0].c_str()) + "\n";
                    EXPECT_NE(text.find("entries_by_item"), std::string::npos) << text;
                  }).ok());
  }

  // The same ledger in any batches: the same stores.
  const auto parts = ReadLedger(dir.Sub("node"));
  const std::vector<std::pair<std::string, std::vector<size_t>>> splits = {
      {"one", {100000}}, {"each", {1}}, {"uneven", {2, 5, 1, 3}}, {"odd", {3, 7}}};
  proj::RedisConnection conn(s.redis_options());
  std::map<std::string, Dump> redis;
  std::map<std::string, std::string> pg;
  for (const auto& [name, sizes] : splits) {
    proj::RedisSink r(s.redis_options(), name, false);
    proj::PgSink sink({s.pg.url(), name});
    std::vector<proj::Checkpoint> ck;
    ASSERT_TRUE(sink.Load(2, &ck).ok());  // migrates
    for (const auto& [p, events] : parts) {
      size_t i = 0, k = 0;
      while (i < events.size()) {
        std::vector<pb::Event> batch;
        for (size_t m = sizes[k++ % sizes.size()]; m > 0 && i < events.size(); --m)
          batch.push_back(events[i++]);
        const proj::Checkpoint from{i - batch.size(), i - batch.size() + 1}, to{i, i + 1};
        ASSERT_TRUE(r.Apply(p, batch, from, to).ok());
        ASSERT_TRUE(sink.Apply(p, batch, from, to).ok());
      }
    }
    redis[name] = DumpRedis(conn, "tl:" + name);
    pg[name] = DumpPg(s.pg.url(), name);
  }
  EXPECT_NE(pg["one"].find("label 14-00"), std::string::npos);
  for (const auto& [name, sizes] : splits) {
    EXPECT_EQ(redis[name], redis["one"]) << name;
    EXPECT_EQ(pg[name], pg["one"]) << name;
  }

  // And a rebuild of each store equals a clean projection of this ledger,
  // whole and one campaign.
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> base = {"--data-dir", dir.Sub("node"), "--partitions", "2", "rebuild"};
    base.insert(base.end(), args.begin(), args.end());
    return TicketdProcess(TL_TICKETCTL, base, {}, "^(.)", /*merge_stderr=*/true).Kill(0);
  };
  CleanProjection(dir.Sub("node"), s);
  ExpectEqualToClean(s);
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url()}), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url()}), 0);
  ExpectEqualToClean(s);
  const std::string live = "tl:" + CurrentNs(s);
  ASSERT_TRUE(conn.Pipeline({{"HSET", live + ":c:slots:items", "b|stock_left", "99"},
                             {"HDEL", live + ":c:slots:entry_item", "slots0"}})
                  .ok());
  proj::PgSink live_pg({s.pg.url(), "ticketledger"});
  ASSERT_TRUE(live_pg
                  .Read([](pqxx::work& tx) {
                    tx.exec("UPDATE items SET taken = 0 WHERE campaign = 'slots'");
                    tx.exec("UPDATE entries SET item_id = NULL WHERE campaign = 'slots'");
                    tx.commit();
                  })
                  .ok());
  EXPECT_NE(DumpRedis(conn, live), DumpRedis(conn, "tl:clean"));
  EXPECT_EQ(ctl({"redis", "--redis-url", s.redis.url(), "--campaign", "slots"}), 0);
  EXPECT_EQ(ctl({"postgres", "--postgres-url", s.pg.url(), "--campaign", "slots"}), 0);
  ExpectEqualToClean(s);
}

}  // namespace
}  // namespace tl::testing
