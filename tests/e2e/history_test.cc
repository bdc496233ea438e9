// The outsider's history checker (issue 16): a black-box test that uses only
// the public HTTP API and process signals. Many concurrent clients enter
// (with an Idempotency-Key, retried with the same key after a timeout or a
// 5xx), cancel, confirm and read one drop with holds, through two api roles,
// while a seeded nemesis SIGKILLs and restarts, SIGTERMs and restarts, or
// SIGSTOPs and SIGCONTs the two api roles, the two engines (a dead one's
// partitions go to the other), the projector, redis-server and PostgreSQL
// — and stops the Kafka mock (SIGSTOP) or crashes its brokers (SIGUSR1 takes
// every broker down, SIGUSR2 brings them back: the mock keeps its log in
// memory, so SIGKILLing the process would lose the log itself, which no
// broker crash does with acks=all). Every request and answer is recorded (sent,
// answered, status, body). After a quiet period with everything restored,
// the campaign is closed and revealed, its ledger exported over HTTP, and
// the history checked:
//   1. every 2xx-acknowledged command is decided in the ledger exactly once
//      (by its Idempotency-Key), as its answer said; no command is decided
//      twice; no user holds two positions;
//   2. no read shows a state that later disappears: every position read is
//      the ledger's, every status read is one the ledger gave that user;
//      one api process never shows a user going backwards; standing wins
//      never exceed the stock, in any read or anywhere in the ledger;
//   3. entries, the ranking (Redis) and the results (PostgreSQL) read
//      through both api roles converge to the ledger's final state;
//   4. `ticketctl audit` over the Kafka topics exits 0.
// On failure it prints the seed, the faults and the offending history lines.
// TL_HISTORY_SEED picks the seed (default 16; it fixes the fault schedule
// and the clients' choices, not their interleaving with real time),
// TL_HISTORY_SECONDS the faulty period (default 30; the soak in
// benchmarks/RESULTS.md: 300 — much past ~400 s one campaign overflows the
// Kafka mock's 5 MiB per partition), TL_HISTORY_CLIENTS the client threads
// (default 16).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/history_process.h"
#include "tests/support/servers.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr char kCampaign[] = "hist";
constexpr int kStock = 40;
constexpr int kHoldS = 4;
constexpr int kApis = 2;
// The entry statuses on the wire (engine/core/names.h, spelt here: this
// test sees only the HTTP API).
constexpr char kQueued[] = "queued";
constexpr char kWon[] = "won";
constexpr char kLost[] = "lost";
constexpr char kSoldOut[] = "sold_out";
constexpr char kWaitlisted[] = "waitlisted";
constexpr char kCancelled[] = "cancelled";
constexpr char kConfirmed[] = "confirmed";
constexpr char kExpired[] = "expired";

std::string Path(const std::string& tail) {
  return std::string("/v1/campaigns/") + kCampaign + tail;
}
std::string AdminPath(const std::string& action) {
  return std::string("/v1/admin/campaigns/") + kCampaign + "/" + action;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

int64_t NowUs(SteadyClock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
}

// One request and its answer, as a client saw them.
struct Op {
  int client = 0;
  std::string kind;  // enter, cancel, confirm, read_entry, read_campaign, read_results
  std::string user;
  std::string key;  // the Idempotency-Key (commands)
  int api = 0;
  int epoch_sent = 0, epoch_answered = 0;  // the api process's incarnation around the call
  int64_t sent_us = 0, answered_us = 0;
  int status = -1;  // -1: no answer (refused, reset, timed out)
  std::string body;

  std::string Line() const {
    std::ostringstream o;
    o << "[" << sent_us / 1000 << "ms.." << answered_us / 1000 << "ms] c" << client << " api" << api
      << "#" << epoch_sent << " " << kind << " " << user;
    if (!key.empty()) o << " key=" << key;
    o << " -> " << status << " " << body.substr(0, 300);
    return o.str();
  }
};

// The processes of the split deployment, each restartable in place.
class Cluster {
 public:
  explicit Cluster(const std::string& dir) : dir_(dir) {}

  bool Start() {
    auto spec = [&](const std::string& name, const std::string& bin, std::vector<std::string> args,
                    const std::string& ready) {
      HistoryProcessSpec s;
      s.name = name;
      s.binary = bin;
      s.args = std::move(args);
      s.ready = ready;
      s.log_path = dir_ + "/" + name + ".log";
      s.env = {{"TICKETD_JWT_SECRET", kJwtSecret},
               {"TICKETLEDGER_SEED_SECRET", kSeedSecret},
               {"TICKETD_PASS_KEY", kPassKeyPem}};
      return s;
    };
    mock_ = std::make_unique<HistoryProcess>(
        spec("kafka", TL_TICKETCTL, {"kafka-mock"}, "^([0-9.:,]+)"));
    if (!mock_->Start()) return Fail("the Kafka mock did not start");
    brokers_ = mock_->match();

    const int redis_port = FreePort();
    std::filesystem::create_directories(dir_ + "/redis");
    redis_ = std::make_unique<HistoryProcess>(
        spec("redis", "/usr/bin/redis-server",
             {"--port", std::to_string(redis_port), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--dir", dir_ + "/redis"},
             "(Ready to accept connections)"));
    if (!redis_->Start()) return Fail("redis-server did not start");
    redis_url_ = "redis://127.0.0.1:" + std::to_string(redis_port);

    {
      // initdb (as `postgres` when root) and the server's arguments, then
      // this test's own process on the same data dir and port.
      PostgresServer initdb(dir_);
      if (!initdb.ok()) return Fail("PostgreSQL did not initialise");
      pg_url_ = initdb.url();
      const std::string data = dir_ + "/pgdata";
      HistoryProcessSpec s = spec("postgres", std::string(PostgresServer::kBin) + "/postgres",
                                  {"-D", data, "-p", std::to_string(initdb.port()), "-k", data,
                                   "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"},
                                  "(ready to accept connections)");
      s.merge_stderr = true;
      s.run_as = "postgres";
      initdb.Stop();
      pg_ = std::make_unique<HistoryProcess>(std::move(s));
    }
    if (!pg_->Start()) return Fail("PostgreSQL did not start");

    const std::vector<std::string> kafka = {"--kafka-brokers",    brokers_, "--partitions", "4",
                                            "--kafka-timeout-ms", "2000"};
    const std::vector<std::string> stores = {"--redis-url", redis_url_, "--postgres-url", pg_url_};
    auto role = [&](const std::string& name, const std::string& r, std::vector<std::string> own) {
      const int port = FreePort();
      std::vector<std::string> args = {"--port", std::to_string(port), "--data-dir",
                                       dir_ + "/" + name};
      for (const std::string& a : RoleArgs(r, kafka, own)) args.push_back(a);
      ports_[name] = port;
      return std::make_unique<HistoryProcess>(
          spec(name, TL_TICKETD, args, "listening on [0-9.]+:([0-9]+)"));
    };
    // Two engines in one group: a dead one's partitions go to the other,
    // which fences it.
    for (int i = 0; i < 2; ++i) {
      engines_[i] =
          role("engine" + std::to_string(i), "engine", {"--kafka-session-timeout-ms", "3000"});
      if (!engines_[i]->Start()) return Fail("an engine did not start");
    }
    projector_ = role("projector", "projector", stores);
    if (!projector_->Start()) return Fail("the projector did not start");
    for (int i = 0; i < kApis; ++i) {
      std::vector<std::string> own = {"--user-rate", "0"};
      own.insert(own.end(), stores.begin(), stores.end());
      apis_[i] = role("api" + std::to_string(i), "api", own);
      if (!apis_[i]->Start()) return Fail("an api role did not start");
    }
    return true;
  }

  // The nemesis's targets, in a fixed order (the seed picks among them).
  std::vector<HistoryProcess*> Targets() {
    return {apis_[0].get(),   apis_[1].get(), engines_[0].get(), engines_[1].get(),
            projector_.get(), redis_.get(),   pg_.get(),         mock_.get()};
  }
  bool IsKafka(const HistoryProcess* p) const { return p == mock_.get(); }
  bool IsTicketd(const HistoryProcess* p) const {
    return p != mock_.get() && p != redis_.get() && p != pg_.get();
  }
  int ApiIndex(const HistoryProcess* p) const {
    for (int i = 0; i < kApis; ++i)
      if (apis_[i].get() == p) return i;
    return -1;
  }

  int ApiPort(int i) const { return ports_.at("api" + std::to_string(i)); }
  int ProjectorPort() const { return ports_.at("projector"); }
  std::atomic<int>& epoch(int api) { return epochs_[api]; }
  const std::string& brokers() const { return brokers_; }
  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& why) {
    error_ = why;
    return false;
  }

  std::string dir_;
  std::string brokers_, redis_url_, pg_url_, error_;
  std::map<std::string, int> ports_;
  std::unique_ptr<HistoryProcess> mock_, redis_, pg_, engines_[2], projector_, apis_[kApis];
  std::atomic<int> epochs_[kApis] = {};
};

// The seeded nemesis: one fault at a time — SIGKILL then restart, SIGTERM
// (a ticketd must exit 0 within 15 s) then restart, or SIGSTOP then SIGCONT
// — each logged with its time.
class Nemesis {
 public:
  Nemesis(Cluster* cluster, uint64_t seed, SteadyClock::time_point t0)
      : cluster_(cluster), rng_(seed ^ 0x6e656d65736973ULL), t0_(t0) {}

  void Run(SteadyClock::time_point until) {
    std::vector<HistoryProcess*> targets = cluster_->Targets();
    while (SteadyClock::now() < until) {
      Sleep(300 + rng_() % 1200);
      if (SteadyClock::now() >= until) break;
      HistoryProcess* p = targets[rng_() % targets.size()];
      const int action = static_cast<int>(rng_() % 8);
      const bool brokers_crash = cluster_->IsKafka(p) && action < 4;
      const bool kill = !cluster_->IsKafka(p) && action < 4;
      const bool term = cluster_->IsTicketd(p) && action == 4;
      const int api = cluster_->ApiIndex(p);
      if (brokers_crash) {
        // The mock keeps the log in memory, so the process is never killed:
        // its brokers are (SIGUSR1: every broker down, connections dropped;
        // SIGUSR2: back), the log surviving as on the brokers' disks.
        const int down_ms = static_cast<int>(rng_() % 3000);
        Log("brokers down (SIGUSR1 to " + p->name() + ") for " + std::to_string(down_ms) + " ms");
        p->Signal(SIGUSR1);
        Sleep(down_ms);
        p->Signal(SIGUSR2);
        ++broker_crashes_;
      } else if (term) {
        // The graceful stop: ticketd decides what it acknowledged, exits 0.
        if (api >= 0) cluster_->epoch(api)++;
        const int code = p->Terminate(15);
        Log("SIGTERM " + p->name() + ": exit " + std::to_string(code) + ", restart");
        if (code != 0)
          bad_exits_.push_back(p->name() + " exited " + std::to_string(code) +
                               " on SIGTERM (-1000: not within 15 s)");
        Restart(p);
        if (api >= 0) cluster_->epoch(api)++;
        ++terms_;
      } else if (kill) {
        const int down_ms = static_cast<int>(rng_() % 1500);
        Log("SIGKILL " + p->name() + ", restart in " + std::to_string(down_ms) + " ms");
        if (api >= 0) cluster_->epoch(api)++;
        p->Kill(SIGKILL);
        Sleep(down_ms);
        Restart(p);
        if (api >= 0) cluster_->epoch(api)++;
        ++kills_;
      } else {
        const int stop_ms = 200 + static_cast<int>(rng_() % 2500);
        Log("SIGSTOP " + p->name() + " for " + std::to_string(stop_ms) + " ms");
        p->Pause();
        Sleep(stop_ms);
        p->Resume();
        ++pauses_;
      }
    }
    Log("healed");
  }

  // Starts `p` again, a few times if it must (a port still held, a store
  // that is itself restarting); false if it never came up.
  bool Restart(HistoryProcess* p) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (p->Start(30)) return true;
      Log("restart of " + p->name() + " failed, again");
      Sleep(500);
    }
    Log("restart of " + p->name() + " FAILED");
    return false;
  }

  int kills() const { return kills_; }
  int broker_crashes() const { return broker_crashes_; }
  int terms() const { return terms_; }
  const std::vector<std::string>& bad_exits() const { return bad_exits_; }
  int pauses() const { return pauses_; }
  std::string log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
  void Log(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    log_ += "  [" + std::to_string(NowUs(t0_) / 1000) + "ms] " + line + "\n";
  }

  Cluster* cluster_;
  std::mt19937_64 rng_;
  SteadyClock::time_point t0_;
  int kills_ = 0, pauses_ = 0, terms_ = 0, broker_crashes_ = 0;
  std::vector<std::string> bad_exits_;
  mutable std::mutex mu_;
  std::string log_;
};

std::string ShopToken(const std::string& shop) {
  api::Claims c{shop, false, static_cast<int64_t>(time(nullptr)) + 3600, true};
  return api::MintJwt(c, kJwtSecret);
}

// One client thread: its own users, both api roles, every call recorded.
class Client {
 public:
  Client(int id, Cluster* cluster, uint64_t seed, SteadyClock::time_point t0)
      : id_(id), cluster_(cluster), rng_(seed * 1000003 + static_cast<uint64_t>(id)), t0_(t0) {
    for (int i = 0; i < kApis; ++i) {
      http_[i] = std::make_unique<httplib::Client>("127.0.0.1", cluster->ApiPort(i));
      http_[i]->set_keep_alive(true);
      http_[i]->set_connection_timeout(1, 0);
      http_[i]->set_read_timeout(3, 0);
      http_[i]->set_write_timeout(3, 0);
    }
  }

  void Run(SteadyClock::time_point until) {
    while (SteadyClock::now() < until) {
      const int r = static_cast<int>(rng_() % 100);
      if (r < 20 || users_.empty()) {
        Enter();
      } else if (r < 60) {
        ReadEntry(users_[Recent()]);
      } else if (r < 68) {
        if (User* u = AWinner()) Cancel(*u);
      } else if (r < 82) {
        if (User* u = AWinner()) Confirm(*u);
      } else if (r >= 98 && id_ == 0) {
        Restock();  // the operator: units come back on sale, so wins go on
      } else {
        ReadShared();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 20));
    }
  }

  std::vector<Op>& ops() { return ops_; }

 private:
  struct User {
    std::string name;
    uint64_t position = 0;
    std::string status;
    bool cancel_sent = false, confirm_sent = false;
  };

  // Mostly one of the latest users: they are the ones whose holds are live.
  size_t Recent() {
    const size_t n = users_.size();
    if (rng_() % 4 == 0) return rng_() % n;
    return n - 1 - rng_() % std::min<size_t>(n, 6);
  }
  User* AWinner() {
    for (size_t tries = 0; tries < 8; ++tries) {
      User& u = users_[Recent()];
      if (u.status == kWon && u.position > 0 && !u.cancel_sent && !u.confirm_sent) return &u;
    }
    return nullptr;
  }

  Op Send(int api, const std::string& kind, const std::string& user, const std::string& key,
          const std::string& method, const std::string& path, httplib::Headers headers,
          const std::string& body) {
    Op op;
    op.client = id_;
    op.kind = kind;
    op.user = user;
    op.key = key;
    op.api = api;
    if (!key.empty()) headers.emplace("Idempotency-Key", key);
    op.epoch_sent = cluster_->epoch(api).load();
    op.sent_us = NowUs(t0_);
    httplib::Result r = method == "GET" ? http_[api]->Get(path, headers)
                        : method == "DELETE"
                            ? http_[api]->Delete(path, headers, body, "application/json")
                            : http_[api]->Post(path, headers, body, "application/json");
    op.answered_us = NowUs(t0_);
    op.epoch_answered = cluster_->epoch(api).load();
    if (r) {
      op.status = r->status;
      op.body = r->body;
    }
    ops_.push_back(op);
    return op;
  }

  // A command, retried with the same key after no answer or a 5xx.
  Op Command(const std::string& kind, const std::string& user, const std::string& key,
             const std::string& method, const std::string& path, const httplib::Headers& headers,
             const std::string& body) {
    Op op;
    for (int attempt = 0; attempt < 12; ++attempt) {
      op = Send(static_cast<int>(rng_() % kApis), kind, user, key, method, path, headers, body);
      if (op.status >= 200 && op.status < 500) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + 100 * attempt));
    }
    return op;
  }

  // What an answer says about the user's entry, if anything.
  static void Learn(User& u, const Op& op) {
    if (op.status != 200) return;
    json b = json::parse(op.body, nullptr, false);
    if (!b.is_object() || !b.contains("status") || !b["status"].is_string()) return;
    u.status = b["status"].get<std::string>();
    if (b.contains("position") && b["position"].is_number_unsigned())
      u.position = b["position"].get<uint64_t>();
  }

  void Enter() {
    User u;
    u.name = "c" + std::to_string(id_) + "u" + std::to_string(next_user_++);
    const std::string prefer = rng_() % 2 ? "wait=2" : "";
    Op op = Command("enter", u.name, "e-" + u.name, "POST", Path("/entries"),
                    Auth(Token(u.name), prefer), "");
    Learn(u, op);
    users_.push_back(u);
  }

  void ReadEntry(User& u) {
    Op op = Send(static_cast<int>(rng_() % kApis), "read_entry", u.name, "", "GET",
                 Path("/entries/me"), Auth(Token(u.name)), "");
    Learn(u, op);
  }

  void Cancel(User& u) {
    u.cancel_sent = true;
    Op op = Command("cancel", u.name, "x-" + u.name, "DELETE", Path("/entries/me"),
                    Auth(Token(u.name), rng_() % 2 ? "wait=2" : ""), "");
    Learn(u, op);
  }

  void Confirm(User& u) {
    u.confirm_sent = true;
    // One shop per user: the engine keeps 64 keys per actor, and a retry
    // must always find its key.
    const json body = {{"user", u.name},
                       {"pass_id", std::string(kCampaign) + ":" + std::to_string(u.position)}};
    Op op = Command("confirm", u.name, "c-" + u.name, "POST", Path("/confirmations"),
                    Auth(ShopToken("shop-" + u.name), "wait=2"), body.dump());
    Learn(u, op);
  }

  void Restock() {
    const std::string key = "r-" + std::to_string(restocks_++);
    Command("restock", "ops", key, "POST", AdminPath("restock"), Auth(Token("ops", true), "wait=2"),
            json{{"units", 2}}.dump());
  }

  void ReadShared() {
    const int api = static_cast<int>(rng_() % kApis);
    if (rng_() % 2) {
      Send(api, "read_campaign", "", "", "GET", Path(""), {}, "");
    } else {
      Send(api, "read_results", "", "", "GET", Path("/results?outcome=won&limit=500"), {}, "");
    }
  }

  int id_;
  Cluster* cluster_;
  std::mt19937_64 rng_;
  SteadyClock::time_point t0_;
  std::unique_ptr<httplib::Client> http_[kApis];
  std::vector<User> users_;
  int next_user_ = 0, restocks_ = 0;
  std::vector<Op> ops_;
};

// --- The ledger, as the export shows it -----------------------------------

std::string StatusOfOutcome(const std::string& outcome) {
  if (outcome == "OUTCOME_WON") return kWon;
  if (outcome == "OUTCOME_LOST") return kLost;
  if (outcome == "OUTCOME_SOLD_OUT") return kSoldOut;
  if (outcome == "OUTCOME_WAITLISTED") return kWaitlisted;
  return "unknown:" + outcome;
}

uint64_t U64(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_string()) return std::stoull(it->get<std::string>());
  return it->get<uint64_t>();
}

struct LedgerUser {
  uint64_t position = 0;
  int entered = 0;                    // QueueEntered events
  std::vector<std::string> statuses;  // queued, then the outcome, then what ended a win
};

struct Ledger {
  std::vector<json> events;
  std::map<std::string, LedgerUser> users;
  // Idempotency-Key -> the decisions (entered, rejected, cancelled, confirmed) carrying it.
  std::map<std::string, std::vector<std::string>> decisions;
  std::vector<std::string> violations;  // found while replaying the units
  int64_t restocked = 0;                // units added by the operator
  std::map<uint64_t, std::string> final_by_position;
  std::map<uint64_t, std::string> user_by_position;
};

Ledger ReadLedger(const std::string& ndjson) {
  Ledger l;
  std::istringstream in(ndjson);
  std::set<std::string> standing;  // users holding a unit now
  std::set<uint64_t> drawn;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded()) {
      l.violations.push_back("an export line is not JSON: " + line.substr(0, 200));
      continue;
    }
    l.events.push_back(e);
    const std::string rid = e.value("request_id", "");
    auto decision = [&](const std::string& what) {
      if (!rid.empty()) l.decisions[rid].push_back(what + " seq " + e.value("sequence", "?"));
    };
    if (e.contains("queue_entered")) {
      const json& q = e["queue_entered"];
      LedgerUser& u = l.users[q.value("user_id", "")];
      u.entered++;
      u.position = U64(q, "position");
      u.statuses.push_back(kQueued);
      l.user_by_position[u.position] = q.value("user_id", "");
      decision("entered");
    } else if (e.contains("stock_changed") &&
               e["stock_changed"].value("reason", "") == "STOCK_RESTOCK") {
      l.restocked += static_cast<int64_t>(U64(e["stock_changed"], "delta"));
      decision("restocked");
    } else if (e.contains("entry_rejected")) {
      decision("rejected " + e["entry_rejected"].value("reason", "?"));
    } else if (e.contains("draw_resolved")) {
      const json& d = e["draw_resolved"];
      const std::string user = d.value("user_id", "");
      const std::string s = StatusOfOutcome(d.value("outcome", ""));
      l.users[user].statuses.push_back(s);
      if (!drawn.insert(U64(d, "position")).second)
        l.violations.push_back("position " + std::to_string(U64(d, "position")) +
                               " drawn twice (seq " + e.value("sequence", "?") + ")");
      if (s == kWon && !standing.insert(user).second)
        l.violations.push_back("user " + user + " won a second unit while holding one");
    } else if (e.contains("entry_cancelled") || e.contains("hold_expired") ||
               e.contains("entry_confirmed")) {
      const char* kind = e.contains("entry_cancelled") ? "entry_cancelled"
                         : e.contains("hold_expired")  ? "hold_expired"
                                                       : "entry_confirmed";
      const std::string user = e[kind].value("user_id", "");
      const std::string s = e.contains("entry_cancelled") ? kCancelled
                            : e.contains("hold_expired")  ? kExpired
                                                          : kConfirmed;
      l.users[user].statuses.push_back(s);
      if (standing.count(user) == 0)
        l.violations.push_back(std::string(kind) + " of " + user + ", who holds no unit (seq " +
                               e.value("sequence", "?") + ")");
      if (s != kConfirmed) standing.erase(user);
      if (s != kExpired) decision(s);
    }
    if (static_cast<int64_t>(standing.size()) > kStock + l.restocked)
      l.violations.push_back("standing wins " + std::to_string(standing.size()) +
                             " over the stock at seq " + e.value("sequence", "?"));
  }
  for (const auto& [user, u] : l.users) {
    if (u.entered > 1)
      l.violations.push_back("user " + user + " entered " + std::to_string(u.entered) + " times");
    if (u.entered == 1) l.final_by_position[u.position] = u.statuses.back();
  }
  return l;
}

// Where `status` is in the user's ledger history (-1: never).
int IndexOf(const LedgerUser& u, const std::string& status) {
  for (size_t i = 0; i < u.statuses.size(); ++i)
    if (u.statuses[i] == status) return static_cast<int>(i);
  return -1;
}

// --- The checks ------------------------------------------------------------

class Report {
 public:
  void Fail(const std::string& what, const std::vector<const Op*>& lines = {}) {
    ++failures_;
    if (failures_ > 40) return;  // enough to see the pattern
    text_ += "VIOLATION: " + what + "\n";
    for (const Op* op : lines) text_ += "    " + op->Line() + "\n";
  }
  int failures() const { return failures_; }
  const std::string& text() const { return text_; }

 private:
  int failures_ = 0;
  std::string text_;
};

// 1. Every acknowledged command decided exactly once, as answered.
void CheckCommands(const std::vector<Op>& ops, const Ledger& ledger, Report* report) {
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : ops)
    if (!op.key.empty()) by_key[op.key].push_back(&op);
  for (const auto& [key, decided] : ledger.decisions) {
    if (decided.size() > 1)
      report->Fail("command " + key + " decided " + std::to_string(decided.size()) + " times (" +
                       decided[0] + ", " + decided[1] + ")",
                   by_key.count(key) ? by_key[key] : std::vector<const Op*>{});
  }
  for (const auto& [key, attempts] : by_key) {
    auto d = ledger.decisions.find(key);
    const std::string got = d == ledger.decisions.end() ? "" : d->second.front();
    for (const Op* op : attempts) {
      if (op->status < 200 || op->status >= 500) continue;
      const json b = json::parse(op->body, nullptr, false);
      // A 4xx is the engine's decision when it names the engine's reason;
      // others (400, 401, 404 unknown_campaign on a replica that has not
      // folded the campaign yet) are the api's, before any log write.
      const bool decided_refusal = op->status >= 400 && b.is_object() && b.contains("error") &&
                                   b["error"].is_object() && b["error"].contains("reason");
      if (op->status >= 300 && !decided_refusal) continue;
      if (got.empty()) {
        report->Fail("acknowledged " + op->kind + " " + key + " (" + std::to_string(op->status) +
                         ") is not in the ledger",
                     attempts);
        break;
      }
      if (decided_refusal) {
        if (got.rfind("rejected", 0) != 0)
          report->Fail(
              key + " answered " + std::to_string(op->status) + " but the ledger has " + got,
              attempts);
        continue;
      }
      if (op->status != 200 || !b.is_object() || !b.contains("status")) continue;
      const std::string s = b["status"].get<std::string>();
      const bool agrees = op->kind == "enter"     ? got.rfind("entered", 0) == 0
                          : op->kind == "cancel"  ? s != kCancelled || got.rfind(kCancelled, 0) == 0
                          : op->kind == "confirm" ? s != kConfirmed || got.rfind(kConfirmed, 0) == 0
                                                  : true;
      if (!agrees)
        report->Fail(key + " answered " + s + " but the ledger decided " + got, attempts);
    }
  }
}

int Rank(const LedgerUser& u, const std::string& status) { return IndexOf(u, status); }

// 2. No read shows a state that later disappears.
void CheckReads(const std::vector<Op>& ops, const Ledger& ledger, Report* report, int* stale,
                int* checked) {
  // user -> its successful entry reads, by api process
  std::map<std::string, std::vector<const Op*>> reads;
  for (const Op& op : ops) {
    if (op.kind == "read_campaign" && op.status == 200) {
      const json c = json::parse(op.body, nullptr, false);
      if (!c.is_object()) continue;
      const int64_t standing = c.value("won", int64_t{0}) - c.value("cancelled", int64_t{0}) -
                               c.value("expired", int64_t{0});
      const int64_t units = kStock + c.value("restocked", int64_t{0});
      if (standing > units || standing + c.value("stock_left", int64_t{0}) != units)
        report->Fail("a campaign read shows " + std::to_string(standing) +
                         " standing wins with stock_left " +
                         std::to_string(c.value("stock_left", int64_t{0})) + " of " +
                         std::to_string(units),
                     {&op});
    }
    if (op.kind == "read_results" && op.status == 200) {
      const json r = json::parse(op.body, nullptr, false);
      if (r.is_object() && r.contains("items") &&
          static_cast<int64_t>(r["items"].size()) > kStock + ledger.restocked)
        report->Fail("a results read lists " + std::to_string(r["items"].size()) +
                         " standing wins of at most " + std::to_string(kStock + ledger.restocked) +
                         " units",
                     {&op});
      // Each row: the ledger's user at that position, in a status it had.
      for (const json& row : r.is_object() ? r.value("items", json::array()) : json::array()) {
        const uint64_t position = row.value("position", uint64_t{0});
        auto at = ledger.user_by_position.find(position);
        const std::string user = row.value("user", "");
        if (at == ledger.user_by_position.end() || at->second != user) {
          report->Fail("a results read puts " + user + " at position " + std::to_string(position) +
                           ", which the ledger gave to " +
                           (at == ledger.user_by_position.end() ? "nobody" : at->second),
                       {&op});
        } else if (IndexOf(ledger.users.at(user), row.value("outcome", "")) < 0) {
          report->Fail("a results read shows " + user + " " + row.value("outcome", "") +
                           ", which the ledger never gave it",
                       {&op});
        }
      }
    }
    if (op.status != 200) continue;
    if (op.kind != "read_entry" && op.kind != "enter" && op.kind != "cancel") continue;
    const json b = json::parse(op.body, nullptr, false);
    if (!b.is_object() || !b.contains("status") || !b.contains("position")) continue;
    ++*checked;
    auto u = ledger.users.find(op.user);
    if (u == ledger.users.end()) {
      report->Fail("a read showed " + op.user + "'s entry, which the ledger never had", {&op});
      continue;
    }
    if (b["position"].get<uint64_t>() != u->second.position)
      report->Fail(op.user + " was shown position " + b["position"].dump() +
                       "; the ledger gave position " + std::to_string(u->second.position),
                   {&op});
    if (IndexOf(u->second, b["status"].get<std::string>()) < 0)
      report->Fail(
          op.user + " was shown status " + b["status"].dump() + ", which the ledger never gave it",
          {&op});
    if (op.kind == "read_entry") reads[op.user].push_back(&op);
  }
  // Within one api process, a user never goes backwards. Across processes a
  // restarted or lagging replica may show an older (never a false) state:
  // counted, not failed.
  for (auto& [user, list] : reads) {
    const LedgerUser& u = ledger.users.at(user);
    std::sort(list.begin(), list.end(),
              [](const Op* a, const Op* b) { return a->sent_us < b->sent_us; });
    for (size_t j = 1; j < list.size(); ++j) {
      const Op* b = list[j];
      const int rb = Rank(u, json::parse(b->body)["status"].get<std::string>());
      for (size_t i = 0; i < j; ++i) {
        const Op* a = list[i];
        if (a->answered_us >= b->sent_us) continue;  // concurrent
        const int ra = Rank(u, json::parse(a->body)["status"].get<std::string>());
        if (rb >= ra) continue;
        const bool same_process = a->api == b->api && a->epoch_sent == a->epoch_answered &&
                                  b->epoch_sent == b->epoch_answered &&
                                  a->epoch_sent == b->epoch_sent;
        if (same_process) {
          report->Fail(user + "'s status went backwards on one api process", {a, b});
        } else {
          ++*stale;
        }
        break;
      }
    }
  }
}

// --- HTTP helpers for the end ---------------------------------------------

std::unique_ptr<httplib::Client> HttpTo(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_connection_timeout(2, 0);
  c->set_read_timeout(10, 0);
  return c;
}

// An admin action, retried until it answers 2xx (or `seconds` pass): with
// the same Idempotency-Key after no answer or a 5xx (it may have been
// taken), with a new one after a refusal (409 not_drained: try again).
struct Answer {
  int status = -1;
  std::string body;
};
Answer Admin(httplib::Client& c, const std::string& path, const std::string& body,
             const std::string& key, int seconds) {
  Answer a;
  int refusals = 0;
  for (int i = 0; i < seconds * 4; ++i) {
    httplib::Headers h = Auth(Token("ops", true), "wait=5");
    h.emplace("Idempotency-Key", key + "-" + std::to_string(refusals));
    auto r = c.Post(path, h, body, "application/json");
    a = r ? Answer{r->status, r->body} : Answer{-1, "no answer"};
    if (a.status >= 200 && a.status < 300) break;
    if (a.status >= 400 && a.status < 500) ++refusals;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return a;
}

std::string ExportLedger(httplib::Client& c, std::string* error) {
  std::string all;
  uint64_t offset = 0;
  for (int page = 0; page < 1000; ++page) {
    auto r = c.Get(Path("/ledger?offset=" + std::to_string(offset) + "&limit=10000"));
    if (!r || r->status != 200) {
      *error = r ? std::to_string(r->status) + " " + r->body : "no answer";
      return "";
    }
    all += r->body;
    offset = std::stoull(r->get_header_value("Ledger-Next-Offset"));
    if (r->get_header_value("Ledger-Complete") == "true") return all;
  }
  *error = "the export never completed";
  return "";
}

// Every row of a paged listing (results by cursor, ranking by offset) as
// position -> status.
bool ReadAll(httplib::Client& c, bool ranking, std::map<uint64_t, std::string>* out) {
  out->clear();
  uint64_t at = 0;
  for (int page = 0; page < 1000; ++page) {
    const std::string q = ranking ? "/ranking?limit=500&offset=" + std::to_string(at)
                                  : "/results?limit=500&cursor=" + std::to_string(at);
    auto r = c.Get(Path(q));
    if (!r || r->status != 200) return false;
    const json b = json::parse(r->body, nullptr, false);
    if (!b.is_object()) return false;
    for (const json& row : b["items"])
      (*out)[row["position"].get<uint64_t>()] =
          row.value(ranking ? "status" : "outcome", std::string());
    const char* next = ranking ? "next_offset" : "next_cursor";
    if (!b.contains(next)) return true;
    at = b[next].get<uint64_t>();
  }
  return false;
}

// Prometheus: every read model the projector writes is up and caught up.
bool ProjectorCaughtUp(int port) {
  auto r = HttpTo(port)->Get("/metrics");
  return r && ProjectionsCaughtUp(r->body);
}

// --- The checker itself, on planted histories --------------------------------

std::string Ev(int seq, const std::string& request_id, const std::string& body) {
  std::string line = "{\"sequence\":\"" + std::to_string(seq) + "\",\"campaign_id\":\"hist\"";
  if (!request_id.empty()) line += ",\"request_id\":\"" + request_id + "\"";
  return line + "," + body + "}\n";
}

Op MakeOp(const std::string& kind, const std::string& user, const std::string& key, int api,
          int64_t sent_ms, int status, const std::string& body) {
  Op op;
  op.kind = kind;
  op.user = user;
  op.key = key;
  op.api = api;
  op.sent_us = sent_ms * 1000;
  op.answered_us = sent_ms * 1000 + 5000;
  op.status = status;
  op.body = body;
  return op;
}

struct Verdict {
  int failures = 0, stale = 0;
  std::string text;
};

Verdict Check(const std::string& ndjson, const std::vector<Op>& ops) {
  const Ledger ledger = ReadLedger(ndjson);
  Report report;
  for (const std::string& v : ledger.violations) report.Fail("ledger: " + v);
  CheckCommands(ops, ledger, &report);
  Verdict v;
  int checked = 0;
  CheckReads(ops, ledger, &report, &v.stale, &checked);
  v.failures = report.failures();
  v.text = report.text();
  return v;
}

// Each planted fault, alone in an otherwise clean history, is found (and
// the clean history passes): the checker is not vacuous.
TEST(HistoryChecker, FindsEachPlantedViolation) {
  const std::string ledger =
      Ev(1, "", R"("campaign_created":{})") +
      Ev(2, "e-a", R"("queue_entered":{"user_id":"a","position":"1"})") +
      Ev(3, "", R"("draw_resolved":{"position":"1","user_id":"a","outcome":"OUTCOME_WON"})") +
      Ev(4, "e-b", R"("queue_entered":{"user_id":"b","position":"2"})") +
      Ev(5, "", R"("draw_resolved":{"position":"2","user_id":"b","outcome":"OUTCOME_LOST"})") +
      Ev(6, "c-a", R"("entry_confirmed":{"user_id":"a","position":"1"})") +
      Ev(7, "x-b", R"("entry_rejected":{"user_id":"b","reason":"REJECT_NOT_CANCELLABLE"})");
  const std::vector<Op> clean = {
      MakeOp("enter", "a", "e-a", 0, 0, 202, R"({"status":"accepted"})"),
      MakeOp("read_entry", "a", "", 0, 20, 200, R"({"status":"queued","position":1})"),
      MakeOp("read_entry", "a", "", 0, 40, 200, R"({"status":"won","position":1})"),
      MakeOp("confirm", "a", "c-a", 1, 60, 200, R"({"status":"confirmed","position":1})"),
      MakeOp("enter", "b", "e-b", 1, 0, -1, ""),  // no answer, then a retry answered
      MakeOp("enter", "b", "e-b", 0, 10, 200, R"({"status":"lost","position":2})"),
      MakeOp("cancel", "b", "x-b", 0, 30, 409,
             R"({"error":{"code":"not_cancellable","reason":"not_cancellable"}})"),
      MakeOp(
          "read_campaign", "", "", 0, 50, 200,
          R"({"won":1,"cancelled":0,"expired":0,"stock_left":)" + std::to_string(kStock - 1) + "}"),
      MakeOp("read_results", "", "", 1, 50, 200,
             R"({"items":[{"position":1,"user":"a","outcome":"won"}]})")};
  Verdict v = Check(ledger, clean);
  EXPECT_EQ(v.failures, 0) << v.text;

  auto with = [&](const Op& op) {
    std::vector<Op> ops = clean;
    ops.push_back(op);
    return Check(ledger, ops);
  };
  // An acknowledged command the ledger lost.
  EXPECT_EQ(with(MakeOp("enter", "c", "e-c", 0, 80, 202, "{}")).failures, 1);
  // An acknowledged refusal the engine never decided.
  EXPECT_EQ(with(MakeOp("cancel", "a", "x-a", 0, 80, 409,
                        R"({"error":{"code":"hold_expired","reason":"hold_expired"}})"))
                .failures,
            1);
  // A command decided twice (a retry that was not recognised).
  EXPECT_EQ(Check(ledger + Ev(8, "e-b", R"("entry_rejected":{"user_id":"b"})"), clean).failures, 1);
  // A position that changed once shown.
  EXPECT_EQ(
      with(MakeOp("read_entry", "b", "", 1, 80, 200, R"({"status":"lost","position":3})")).failures,
      1);
  // A status the ledger never gave (a win that disappeared).
  EXPECT_EQ(
      with(MakeOp("read_entry", "b", "", 1, 80, 200, R"({"status":"won","position":2})")).failures,
      1);
  // A give-back answered as done that the ledger refused: the answer
  // disagrees, and it showed a status the ledger never gave.
  EXPECT_EQ(Check(ledger, {MakeOp("cancel", "b", "x-b", 0, 30, 200,
                                  R"({"status":"cancelled","position":2})")})
                .failures,
            2);
  // Backwards on one api process: a failure; on another process: stale only.
  EXPECT_EQ(with(MakeOp("read_entry", "a", "", 0, 80, 200, R"({"status":"queued","position":1})"))
                .failures,
            1);
  v = with(MakeOp("read_entry", "a", "", 1, 80, 200, R"({"status":"queued","position":1})"));
  EXPECT_EQ(v.failures, 0) << v.text;
  EXPECT_EQ(v.stale, 1);
  // More standing wins than units, in a read and in a results page.
  EXPECT_EQ(with(MakeOp("read_campaign", "", "", 0, 80, 200,
                        R"({"won":)" + std::to_string(kStock + 1) +
                            R"(,"cancelled":0,"expired":0,"stock_left":0})"))
                .failures,
            1);
  EXPECT_EQ(with(MakeOp("read_results", "", "", 0, 80, 200,
                        R"({"items":[{"position":2,"user":"a","outcome":"won"}]})"))
                .failures,
            1);
  // In the ledger: one unit more than the stock won, and a user entered twice.
  std::string over = Ev(1, "", R"("campaign_created":{})");
  for (int i = 0; i <= kStock; ++i) {
    const std::string u = "u" + std::to_string(i), p = std::to_string(i + 1);
    over +=
        Ev(2 * i + 2, "", R"("queue_entered":{"user_id":")" + u + R"(","position":")" + p + "\"}");
    over += Ev(2 * i + 3, "",
               R"("draw_resolved":{"user_id":")" + u + R"(","position":")" + p +
                   R"(","outcome":"OUTCOME_WON"})");
  }
  v = Check(over, {});
  EXPECT_EQ(v.failures, 1) << v.text;
  EXPECT_NE(v.text.find("over the stock"), std::string::npos) << v.text;
  EXPECT_EQ(
      Check(ledger + Ev(9, "", R"("queue_entered":{"user_id":"a","position":"3"})"), {}).failures,
      1);
}

TEST(History, ClientsUnderProcessFaultsSeeOnlyTheLedger) {
  const uint64_t seed = static_cast<uint64_t>(EnvInt("TL_HISTORY_SEED", 16));
  const int seconds = EnvInt("TL_HISTORY_SECONDS", 30);
  const int clients = EnvInt("TL_HISTORY_CLIENTS", 16);
  std::printf(
      "history: seed %llu, %d s of faults, %d clients (TL_HISTORY_SEED, "
      "TL_HISTORY_SECONDS, TL_HISTORY_CLIENTS)\n",
      static_cast<unsigned long long>(seed), seconds, clients);
  const auto t0 = SteadyClock::now();
  TempDir dir;
  Cluster cluster(dir.path());
  ASSERT_TRUE(cluster.Start()) << cluster.error() << " (logs in " << dir.path() << ")";

  auto admin = HttpTo(cluster.ApiPort(0));
  auto created = Admin(*admin, "/v1/admin/campaigns",
                       json{{"id", kCampaign},
                            {"stock", kStock},
                            {"win_bps", 5000},
                            {"admission_rate_per_s", 40},
                            {"hold_s", kHoldS}}
                           .dump(),
                       "create", 30);
  ASSERT_EQ(created.status, 201) << created.body;

  // Both api roles know the campaign before the clients start.
  for (int api = 0; api < kApis; ++api) {
    auto c = HttpTo(cluster.ApiPort(api));
    int status = -1;
    for (int i = 0; i < 200 && status != 200; ++i) {
      auto r = c->Get(Path(""));
      status = r ? r->status : -1;
      if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(status, 200) << "api" << api << " does not show the campaign";
  }

  // The faulty period: clients and the nemesis together.
  const auto until = SteadyClock::now() + std::chrono::seconds(seconds);
  std::vector<std::unique_ptr<Client>> pool;
  for (int i = 0; i < clients; ++i) pool.push_back(std::make_unique<Client>(i, &cluster, seed, t0));
  Nemesis nemesis(&cluster, seed, t0);
  std::vector<std::thread> threads;
  for (auto& c : pool) threads.emplace_back([&c, until] { c->Run(until); });
  nemesis.Run(until);  // on this thread: the processes it restarts die with it
  for (auto& t : threads) t.join();
  const double faulty_s = static_cast<double>(NowUs(t0)) / 1e6;

  std::vector<Op> ops;
  for (auto& c : pool) ops.insert(ops.end(), c->ops().begin(), c->ops().end());
  std::sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.sent_us < b.sent_us; });
  std::map<std::string, int> by_kind, acked;
  int unanswered = 0;
  for (const Op& op : ops) {
    by_kind[op.kind]++;
    if (op.status >= 200 && op.status < 300) acked[op.kind]++;
    if (op.status < 0) ++unanswered;
  }

  // The quiet period: every hold decided (confirmed, given back or expired),
  // every position drawn; then close and reveal, so the ledger is exported.
  json campaign;
  for (int i = 0; i < 240; ++i) {
    auto r = admin->Get(Path(""));
    if (r && r->status == 200) {
      campaign = json::parse(r->body);
      const int64_t live = campaign["won"].get<int64_t>() - campaign["cancelled"].get<int64_t>() -
                           campaign["expired"].get<int64_t>() -
                           campaign["confirmed"].get<int64_t>();
      if (campaign["drawn"] == campaign["entries"] && live == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  auto closed = Admin(*admin, AdminPath("close"), "{}", "close", 30);
  ASSERT_EQ(closed.status, 200) << closed.body;
  auto revealed = Admin(*admin, AdminPath("reveal"), "{}", "reveal", 60);
  ASSERT_EQ(revealed.status, 200) << revealed.body;
  std::string export_error;
  const std::string ndjson = ExportLedger(*admin, &export_error);
  ASSERT_FALSE(ndjson.empty()) << export_error;
  const Ledger ledger = ReadLedger(ndjson);

  Report report;
  for (const std::string& v : ledger.violations) report.Fail("ledger: " + v);
  for (const std::string& v : nemesis.bad_exits()) report.Fail("SIGTERM: " + v);
  CheckCommands(ops, ledger, &report);
  int stale = 0, reads_checked = 0;
  CheckReads(ops, ledger, &report, &stale, &reads_checked);

  // 3. The read models converge: every entry, the ranking (Redis) and the
  // results (PostgreSQL), through both api roles.
  const auto converge_t0 = SteadyClock::now();
  bool caught_up = false;
  for (int i = 0; i < 600 && !(caught_up = ProjectorCaughtUp(cluster.ProjectorPort())); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!caught_up) report.Fail("the projector never caught up with the ledger");
  std::string mismatch;
  for (int round = 0; round < 120; ++round) {
    mismatch.clear();
    for (int api = 0; api < kApis && mismatch.empty(); ++api) {
      auto c = HttpTo(cluster.ApiPort(api));
      std::map<uint64_t, std::string> rows;
      if (!ReadAll(*c, true, &rows) || rows != ledger.final_by_position) {
        mismatch = "api" + std::to_string(api) + " ranking differs from the ledger (" +
                   std::to_string(rows.size()) + " rows)";
        break;
      }
      if (!ReadAll(*c, false, &rows) || rows != ledger.final_by_position) {
        mismatch = "api" + std::to_string(api) + " results differ from the ledger (" +
                   std::to_string(rows.size()) + " rows)";
        break;
      }
      for (const auto& [position, status] : ledger.final_by_position) {
        const std::string& user = ledger.user_by_position.at(position);
        auto r = c->Get(Path("/entries/me"), Auth(Token(user)));
        const json b = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
        if (!b.is_object() || b.value("status", "") != status ||
            b.value("position", uint64_t{0}) != position) {
          mismatch = "api" + std::to_string(api) + " shows " + user + " as " +
                     (r ? std::to_string(r->status) + " " + r->body : "no answer") +
                     "; the ledger ends it " + status + " at position " + std::to_string(position);
          break;
        }
      }
    }
    if (mismatch.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!mismatch.empty()) report.Fail("the read models did not converge in 60 s: " + mismatch);
  const double converge_s = std::chrono::duration<double>(SteadyClock::now() - converge_t0).count();

  // 4. The audit over the Kafka topics.
  const ShellRun audit = RunShell(std::string("TICKETLEDGER_SEED_SECRET='") + kSeedSecret + "' " +
                                  TL_TICKETCTL + " audit --kafka-brokers " + cluster.brokers() +
                                  " --campaign " + kCampaign + " 2>&1");
  if (audit.code != 0)
    report.Fail("ticketctl audit exited " + std::to_string(audit.code) + ":\n" + audit.out);

  size_t entered = 0, won = 0;
  for (const auto& [user, u] : ledger.users) {
    entered += u.entered;
    won += std::count(u.statuses.begin(), u.statuses.end(), kWon);
  }
  std::printf(
      "history: %zu requests in %.1f s (%d enter, %d cancel, %d confirm, %d restock, %d entry "
      "reads, %d campaign reads, %d results reads; %d unanswered); acknowledged: %d enter, %d "
      "cancel, %d confirm, %d restock\n",
      ops.size(), faulty_s, by_kind["enter"], by_kind["cancel"], by_kind["confirm"],
      by_kind["restock"], by_kind["read_entry"], by_kind["read_campaign"], by_kind["read_results"],
      unanswered, acked["enter"], acked["cancel"], acked["confirm"], acked["restock"]);
  std::printf(
      "history: %d SIGKILL+restart, %d SIGTERM+restart, %d SIGSTOP+SIGCONT, %d broker crashes; "
      "ledger %zu events, %zu "
      "entries, %zu wins "
      "of %lld units (stock %d + restocked); %d cross-replica stale reads, %d entry states "
      "checked; converged in %.1f s; audit exit %d; %d violations\n",
      nemesis.kills(), nemesis.terms(), nemesis.pauses(), nemesis.broker_crashes(),
      ledger.events.size(), entered, won, static_cast<long long>(kStock + ledger.restocked), kStock,
      stale, reads_checked, converge_s, audit.code, report.failures());
  EXPECT_EQ(report.failures(), 0) << "seed " << seed << " (TL_HISTORY_SEED=" << seed
                                  << " TL_HISTORY_SECONDS=" << seconds
                                  << " replays its fault schedule)\n"
                                  << report.text() << "faults:\n"
                                  << nemesis.log();
  EXPECT_GT(acked["enter"], 0);
  EXPECT_GT(nemesis.kills() + nemesis.pauses(), 0);
}

}  // namespace
}  // namespace tl::testing
