// End to end: a real ticketd process on loopback, driven over HTTP.
#include "api/api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "api/ops_routes.h"
#include "api/pages.h"
#include "api/views.h"
#include "engine/core/draw.h"
#include "tests/support/servers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

// TL_TEST_READ_MODELS=1 (a second ctest run): every ticketd also projects
// into a real Redis and PostgreSQL and reads entries, rankings and results
// from them; the same tests must pass.
bool ReadModelsOn() { return std::getenv("TL_TEST_READ_MODELS") != nullptr; }

class ReadModelsEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!ReadModelsOn()) return;
    dir_ = std::make_unique<TempDir>();
    redis_ = std::make_unique<RedisServer>(dir_->Sub("redis"));
    pg_ = std::make_unique<PostgresServer>(dir_->path());
    ASSERT_TRUE(redis_->ok() && pg_->ok()) << "could not start redis-server / postgres";
    ExtraTicketdArgs() = [this] {
      const std::string ns = "t" + std::to_string(++n_);
      return std::vector<std::string>{
          "--redis-url",    redis_->url(), "--redis-prefix",    ns + ":",
          "--postgres-url", pg_->url(),    "--postgres-schema", ns};
    };
  }
  void TearDown() override {
    ExtraTicketdArgs() = nullptr;
    pg_.reset();
    redis_.reset();
    dir_.reset();
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<PostgresServer> pg_;
  int n_ = 0;
};
::testing::Environment* const kReadModels = ::testing::AddGlobalTestEnvironment(new ReadModelsEnv);

// A counter's value from a metrics page (0 if absent).
double Metric(const std::string& page, const std::string& series) {
  size_t at = page.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(page.substr(at + series.size() + 2));
}

// Generous limits so load tests measure the engine, not the limiter.
const std::vector<std::string> kArgs = {"--user-rate", "0", "--tick-ms", "50"};

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

void CreateCampaign(httplib::Client& c, const json& spec) {
  auto r = c.Post("/v1/admin/campaigns", Auth(Token("ops", true)), spec.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
}

// Every position of a campaign's queue, in order.
std::vector<json> Ranking(httplib::Client& c, const std::string& id) {
  std::vector<json> out;
  for (uint64_t offset = 0;;) {
    auto r = c.Get("/v1/campaigns/" + id + "/ranking?limit=1000&offset=" + std::to_string(offset));
    EXPECT_TRUE(r && r->status == 200);
    if (!r || r->status != 200) break;
    json page = Body(r);
    for (auto& item : page["items"]) out.push_back(item);
    if (!page.contains("next_offset")) break;
    offset = page["next_offset"];
  }
  return out;
}

// Runs fn(i) for i in [0, n) on `threads` threads, each with its own client.
void Parallel(const TicketdProcess& d, int n, int threads,
              const std::function<void(httplib::Client&, int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto client = d.Client();
      for (int i; (i = next.fetch_add(1)) < n;) fn(*client, i);
    });
  }
  for (auto& t : pool) t.join();
}

TEST(Api, FirstComeRaceThousandUsersStockHundred) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c, {{"id", "race"}, {"stock", 100}, {"win_bps", 10000}});
  std::mutex mu;
  std::map<std::string, int> outcomes;
  Parallel(d, 1000, 16, [&](httplib::Client& client, int i) {
    std::string user = "user-" + std::to_string(i);
    auto r = client.Post("/v1/campaigns/race/entries", Auth(Token(user), "wait=10"), "",
                         "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::lock_guard<std::mutex> lock(mu);
    outcomes[Body(r)["status"].get<std::string>()]++;
  });
  EXPECT_EQ(outcomes["won"], 100);
  EXPECT_EQ(outcomes["sold_out"], 900);
  std::vector<json> ranking = Ranking(*c, "race");
  std::set<std::string> users;
  for (auto& item : ranking) users.insert(item["user"].get<std::string>());
  EXPECT_EQ(ranking.size(), 1000u);
  EXPECT_EQ(users.size(), 1000u);  // no user twice
  json campaign = Body(c->Get("/v1/campaigns/race"));
  EXPECT_EQ(campaign["won"], 100);
  EXPECT_EQ(campaign["stock_left"], 0);
  // Winners, paginated by cursor.
  std::set<std::string> winners;
  for (std::string cursor = "0";;) {
    json page = Body(c->Get("/v1/campaigns/race/results?outcome=won&limit=7&cursor=" + cursor));
    for (auto& item : page["items"]) winners.insert(item["user"].get<std::string>());
    if (!page.contains("next_cursor")) break;
    cursor = std::to_string(page["next_cursor"].get<uint64_t>());
  }
  EXPECT_EQ(winners.size(), 100u);
}

// An Idempotency-Key makes a command happen once: 8 identical restocks sent
// at once apply one (the api's cache alone applied 4: each missed it before
// the first was decided), a restart (the cache gone) still applies none, and
// the key with another body is refused. The engine decides it
// (engine/core/idempotency.h), from the key the command carries in the log.
TEST(Api, AnIdempotencyKeyAppliesACommandOnceAcrossConcurrencyAndRestarts) {
  TempDir dir;
  auto restock = [](httplib::Client& client, const std::string& body) {
    httplib::Headers h = Auth(Token("ops", true), "wait=5");
    h.emplace("Idempotency-Key", "restock-1");
    return client.Post("/v1/admin/campaigns/r/restock", h, body, "application/json");
  };
  {
    TicketdProcess d(dir.path(), kArgs);
    ASSERT_TRUE(d.ok());
    auto c = d.Client();
    CreateCampaign(*c, {{"id", "r"}, {"stock", 10}, {"win_bps", 10000}});
    std::mutex mu;
    std::vector<std::pair<int, json>> answers;
    Parallel(d, 8, 8, [&](httplib::Client& client, int) {
      auto r = restock(client, R"({"units":5})");
      ASSERT_TRUE(r);
      json b = Body(r);
      b.erase("request");  // each request has its own reference
      std::lock_guard<std::mutex> lock(mu);
      answers.emplace_back(r->status, b);
    });
    ASSERT_EQ(answers.size(), 8u);
    for (const auto& [status, body] : answers) {
      EXPECT_EQ(status, 200) << body.dump();
      EXPECT_EQ(body, answers[0].second);  // every repeat gets the original decision
    }
    json campaign = Body(c->Get("/v1/campaigns/r"));
    EXPECT_EQ(campaign["restocked"], 5);
    EXPECT_EQ(campaign["stock_left"], 15);
  }
  TicketdProcess d(dir.path(), kArgs);  // a new process: the api's cache is empty
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  auto again = restock(*c, R"({"units":5})");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  auto other = restock(*c, R"({"units":6})");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 422) << other->body;
  EXPECT_EQ(Body(other)["error"]["code"], "idempotency_key_reused");
  json campaign = Body(c->Get("/v1/campaigns/r"));
  EXPECT_EQ(campaign["restocked"], 5);
  EXPECT_EQ(campaign["stock_left"], 15);
  // The request links of the repeats answer with the original decision too.
  const std::string ref = Body(again)["request"];
  auto link = c->Get("/v1/campaigns/r/requests/" + ref, Auth(Token("ops", true)));
  ASSERT_TRUE(link);
  EXPECT_EQ(link->status, 200) << link->body;
}

TEST(Api, FivePercentLotteryMatchesTheDrawFunction) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c, {{"id", "lottery"}, {"stock", 20000}, {"win_bps", 500}});
  const int kUsers = 20000;
  std::atomic<int> accepted{0};
  Parallel(d, kUsers, 16, [&](httplib::Client& client, int i) {
    auto r = client.Post("/v1/campaigns/lottery/entries", Auth(Token("u" + std::to_string(i))), "",
                         "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    accepted++;
  });
  ASSERT_EQ(accepted.load(), kUsers);
  json campaign;
  for (int i = 0; i < 300; ++i) {
    campaign = Body(c->Get("/v1/campaigns/lottery"));
    if (campaign["drawn"] == kUsers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(campaign["drawn"], kUsers);
  // Re-derive every draw from the seed: the wins must be exactly these.
  Drawer drawer(DeriveSeed(kSeedSecret, "lottery"));
  std::vector<json> ranking = Ranking(*c, "lottery");
  ASSERT_EQ(ranking.size(), static_cast<size_t>(kUsers));
  int predicted = 0;
  for (auto& item : ranking) {
    bool win = UnderThreshold(
        drawer.DrawValue("lottery", item["position"], item["user"].get<std::string>()), 500);
    predicted += win;
    EXPECT_EQ(item["status"], win ? "won" : "lost");
  }
  EXPECT_EQ(campaign["won"], predicted);
  // And inside the 99.9% binomial interval around 1,000 (z = 3.29, sd 30.8).
  const double sd = std::sqrt(kUsers * 0.05 * 0.95);
  EXPECT_NEAR(predicted, 1000, 3.29 * sd);
  if (ReadModelsOn()) {
    // Once the stores caught up, the same reads come from them, unchanged.
    EXPECT_TRUE(WaitProjectionsCaughtUp(d, 30));
    EXPECT_EQ(Ranking(*c, "lottery"), ranking);
    size_t winners = 0;
    for (std::string cursor = "0";;) {  // pages of at most 1,000
      json page =
          Body(c->Get("/v1/campaigns/lottery/results?outcome=won&limit=1000&cursor=" + cursor));
      winners += page["items"].size();
      if (!page.contains("next_cursor")) break;
      cursor = std::to_string(page["next_cursor"].get<uint64_t>());
    }
    EXPECT_EQ(winners, static_cast<size_t>(predicted));
    auto me = c->Get("/v1/campaigns/lottery/entries/me", Auth(Token("u7")));
    ASSERT_TRUE(me);
    for (auto& item : ranking) {
      if (item["user"] != "u7") continue;
      EXPECT_EQ(Body(me)["position"], item["position"]);
      EXPECT_EQ(Body(me)["status"], item["status"]);
    }
    std::string page = c->Get("/metrics")->body;
    EXPECT_GT(Metric(page, "ticketledger_reads_total{route=\"ranking\",source=\"redis\"}"), 0)
        << page;
    EXPECT_GT(Metric(page, "ticketledger_reads_total{route=\"results\",source=\"postgres\"}"), 0)
        << page;
    EXPECT_GT(Metric(page, "ticketledger_reads_total{route=\"entry\",source=\"redis\"}"), 0)
        << page;
  }
}

TEST(Api, BadInputsGetClearErrors) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "0", "--body-bytes-max", "4096"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c, {{"id", "c1"}, {"stock", 10}, {"win_bps", 5000}});
  auto code = [](const httplib::Result& r) { return Body(r)["error"]["code"].get<std::string>(); };
  const std::string alice = Token("alice");
  auto post = [&](const std::string& path, const std::string& body, const std::string& type,
                  httplib::Headers h) { return c->Post(path, h, body, type); };

  auto r = post("/v1/campaigns/c1/entries", "{bad", "application/json", Auth(alice));
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(code(r), "malformed_json");
  r = post("/v1/campaigns/c1/entries", "[1]", "application/json", Auth(alice));
  EXPECT_EQ(r->status, 400);
  r = post("/v1/campaigns/c1/entries", R"({"seat":"A1"})", "application/json", Auth(alice));
  EXPECT_EQ(code(r), "unknown_field");
  r = post("/v1/campaigns/c1/entries", "x", "text/plain", Auth(alice));
  EXPECT_EQ(r->status, 415);
  r = post("/v1/campaigns/c1/entries", std::string(8192, ' '), "application/json", Auth(alice));
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(code(r), "payload_too_large");
  // Wrong types in an admin body.
  r = post("/v1/admin/campaigns", R"({"id":"c2","stock":"ten","win_bps":1})", "application/json",
           Auth(Token("ops", true)));
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("stock"), std::string::npos);
  r = post("/v1/admin/campaigns", R"({"id":"c2","stock":1,"win_bps":10001})", "application/json",
           Auth(Token("ops", true)));
  EXPECT_EQ(r->status, 400);
  // Tokens.
  r = post("/v1/campaigns/c1/entries", "", "application/json", {});
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(r->has_header("WWW-Authenticate"));
  r = post("/v1/campaigns/c1/entries", "", "application/json", Auth(Token("alice", false, -10)));
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("expired"), std::string::npos);
  std::string forged = alice;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  r = post("/v1/campaigns/c1/entries", "", "application/json", Auth(forged));
  EXPECT_EQ(r->status, 401);
  std::string none = api::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                     api::Base64UrlEncode(R"({"sub":"mallory","exp":9999999999,"role":"admin"})") +
                     ".";
  r = post("/v1/admin/campaigns", R"({"id":"c3","stock":1,"win_bps":1})", "application/json",
           Auth(none));
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("HS256"), std::string::npos);
  r = post("/v1/admin/campaigns", R"({"id":"c3","stock":1,"win_bps":1})", "application/json",
           Auth(alice));
  EXPECT_EQ(r->status, 403);
  // Ids.
  r = post("/v1/campaigns/nope/entries", "", "application/json", Auth(alice));
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(code(r), "unknown_campaign");
  r = post("/v1/campaigns/" + std::string(65, 'a') + "/entries", "", "application/json",
           Auth(alice));
  EXPECT_EQ(r->status, 400);
  r = c->Get("/v1/campaigns/c%01d");
  EXPECT_EQ(r->status, 400);
  r = post("/v1/campaigns/c1/entries", "", "application/json", Auth(Token("bad\x01user")));
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(code(r), "invalid_user_id");
  r = c->Get("/v1/campaigns/c1/ranking?limit=abc");
  EXPECT_EQ(r->status, 400);
  r = c->Get("/v1/nothing/here");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(code(r), "not_found");
  // Idempotency: same key and body -> same answer; other body -> 422.
  httplib::Headers h = Auth(alice, "wait=5");
  h.emplace("Idempotency-Key", "k-1");
  auto first = post("/v1/campaigns/c1/entries", "", "application/json", h);
  auto again = post("/v1/campaigns/c1/entries", "", "application/json", h);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(again->status, first->status);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(again->get_header_value("Idempotent-Replayed"), "true");
  auto other = post("/v1/campaigns/c1/entries", "{}", "application/json", h);
  EXPECT_EQ(other->status, 422);
  // A refused user is told why at entries/me.
  c->Post("/v1/admin/campaigns/c1/close", Auth(Token("ops", true), "wait=5"), "",
          "application/json");
  r = post("/v1/campaigns/c1/entries", "", "application/json", Auth(Token("too-late"), "wait=5"));
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(code(r), "campaign_closed");
  r = c->Get("/v1/campaigns/c1/entries/me", Auth(Token("too-late")));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["status"], "rejected");
  EXPECT_EQ(Body(r)["reason"], "campaign_closed");
  // A second entry by the same user is a duplicate naming the first position.
  auto dup = post("/v1/campaigns/c1/entries", "", "application/json", Auth(alice, "wait=5"));
  EXPECT_EQ(dup->status, 409);
  EXPECT_EQ(Body(dup)["error"]["original_position"], 1);
}

// The entry's one shape, written by hand for the live channel: valid JSON
// with the fields each status has, strings escaped.
TEST(Views, EntryJsonTextHasTheFieldsOfEachStatus) {
  api::EntryView queued;
  queued.status = "queued";
  queued.position = 12;
  queued.serving = 2;
  queued.rate = 4;
  EXPECT_EQ(json::parse(api::EntryJsonText("c1", "a\"b\\c\n", queued)),
            json::parse(R"({"campaign":"c1","user":"a\"b\\c\n","status":"queued","position":12,
                            "serving":2,"queue_distance":10,"people_ahead":9,
                            "estimated_wait_s":3})"));
  queued.paused = true;
  EXPECT_EQ(json::parse(api::EntryJsonText("c1", "u", queued)),
            json::parse(R"({"campaign":"c1","user":"u","status":"queued","position":12,
                            "serving":2,"queue_distance":10,"people_ahead":9,
                            "estimated_wait_s":null,"admission_paused":true})"));
  api::EntryView won;
  won.status = "won";
  won.position = 3;
  won.serving = 7;
  EXPECT_EQ(json::parse(api::EntryJsonText("c1", "u", won)),
            json::parse(R"({"campaign":"c1","user":"u","status":"won","position":3,"serving":7})"));
  api::EntryView rejected;
  rejected.status = "rejected";
  rejected.reject_reason = "REJECT_CAMPAIGN_CLOSED";
  EXPECT_EQ(json::parse(api::EntryJsonText("c1", "u", rejected)),
            json::parse(R"({"campaign":"c1","user":"u","status":"rejected",
                            "reason":"campaign_closed"})"));
  EXPECT_EQ(json::parse(api::EntryJsonText("c1", "u", api::EntryView{})),
            json::parse(R"({"campaign":"c1","user":"u"})"));
  // Keys in nlohmann's order, so the text equals the value's dump.
  EXPECT_EQ(api::EntryJsonText("c1", "u", queued),
            json::parse(api::EntryJsonText("c1", "u", queued)).dump());
}

TEST(Api, RateLimitsAnswer429WithRetryAfter) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "1", "--user-burst", "2"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c, {{"id", "c1"}, {"stock", 10}, {"win_bps", 5000}});
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) {
    auto r = c->Get("/v1/campaigns/c1/entries/me", Auth(Token("carol")));
    statuses.push_back(r->status);
    if (r->status == 429) {
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
    }
  }
  EXPECT_EQ(statuses[0], 404);  // not entered, but allowed
  EXPECT_EQ(statuses[3], 429);
}

TEST(Api, SlowClientsAreCutOff) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--header-timeout-ms", "1000", "--idle-timeout-s", "1"});
  ASSERT_TRUE(d.ok());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(d.port()));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string partial = "POST /v1/campaigns/c1/entries HTTP/1.1\r\nHost: x\r\n";  // never ends
  ASSERT_GT(send(fd, partial.data(), partial.size(), 0), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto start = std::chrono::steady_clock::now();
  char buf[256];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fd);
  EXPECT_EQ(n, 0);  // closed by the server, not by our 10 s timeout
  EXPECT_LT(secs, 5.0);
}

TEST(Api, OpenApiDocumentMatchesTheRoutes) {
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  std::ifstream in(TL_OPENAPI);
  std::stringstream file;
  file << in.rdbuf();
  auto r = d.Client()->Get("/openapi.json");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(file.str()));
  std::set<std::string> documented, served;
  const json doc = json::parse(file.str());
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) documented.insert(method + " " + path);
  }
  auto serve = [&](std::string m, const std::string& path) {
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    served.insert(m + " " + path);
  };
  for (const auto& route : api::Api::Routes()) serve(route.method, route.path);
  for (const auto& [method, path] : api::OpsRoutes()) serve(method, path);
  for (const auto& [method, path] : api::PageRoutes()) serve(method, path);
  EXPECT_EQ(documented, served);
}

// A campaign admitting `rate` positions a second with users s0..s<n-1> in
// its queue; the last of them watches its SSE stream to the end. Returns the
// stream's bytes (empty if the request failed).
std::string WatchTheLastOfAQueue(const TicketdProcess& d, int rate, int n) {
  auto c = d.Client();
  CreateCampaign(
      *c, {{"id", "slow"}, {"stock", 5}, {"win_bps", 10000}, {"admission_rate_per_s", rate}});
  for (int i = 0; i < n; ++i) {
    auto r = c->Post("/v1/campaigns/slow/entries", Auth(Token("s" + std::to_string(i))), "",
                     "application/json");
    EXPECT_TRUE(r && r->status == 202);
  }
  std::string stream;
  auto r = d.Client()->Get("/v1/campaigns/slow/events", Auth(Token("s" + std::to_string(n - 1))),
                           [&](const char* data, size_t len) {
                             stream.append(data, len);
                             return true;
                           });
  EXPECT_TRUE(r && r->status == 200);
  return stream;
}

TEST(Api, SseStreamsPositionThenOutcome) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  const std::string stream = WatchTheLastOfAQueue(d, 4, 4);
  EXPECT_NE(stream.find("\"status\":\"queued\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"status\":\"won\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("event: status"), std::string::npos);
  // The waiting room moved at the configured rate: 4 positions at 4/s.
  json campaign = Body(d.Client()->Get("/v1/campaigns/slow"));
  EXPECT_EQ(campaign["serving"], 4);
}

// A live stream is idle between messages for longer than the write deadline:
// the deadline must bound each write, not the stream's life.
TEST(Api, SseStreamOutlivesTheWriteDeadline) {
  TempDir dir;
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--write-timeout-s", "1"});
  TicketdProcess d(dir.path(), args);
  ASSERT_TRUE(d.ok());
  auto start = std::chrono::steady_clock::now();
  const std::string stream = WatchTheLastOfAQueue(d, 1, 3);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(secs, 1.5);  // it waited for its turn at 1 position a second...
  EXPECT_NE(stream.find("\"status\":\"won\""), std::string::npos) << stream;  // ...and got it
}

// SIGTERM while people wait: an open stream and a long-poll for an outcome
// still queued behind the admission rate. ticketd answers the long-poll,
// ends the stream and exits 0.
TEST(Api, SigtermWithStreamsAndLongPollsOpenExitsCleanly) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c,
                 {{"id", "slow"}, {"stock", 50}, {"win_bps", 10000}, {"admission_rate_per_s", 1}});
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(c->Post("/v1/campaigns/slow/entries", Auth(Token("s" + std::to_string(i))), "",
                      "application/json")
                  ->status,
              202);
  }
  std::atomic<bool> stream_ended{false};
  std::thread watcher([&] {
    d.Client()->Get("/v1/campaigns/slow/events", Auth(Token("s4")),
                    [](const char*, size_t) { return true; });
    stream_ended = true;
  });
  int long_poll_status = 0;
  std::thread poller([&] {
    auto r = d.Client()->Post("/v1/campaigns/slow/entries", Auth(Token("late"), "wait=10"), "",
                              "application/json");
    if (r) long_poll_status = r->status;
  });
  // The long-poll's entry is decided (queued): from here it waits for its outcome.
  for (int i = 0; i < 100; ++i) {
    auto r = c->Get("/v1/campaigns/slow/entries/me", Auth(Token("late")));
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(d.Kill(SIGTERM), 0);
  watcher.join();
  poller.join();
  EXPECT_TRUE(stream_ended);
  EXPECT_EQ(long_poll_status, 200);  // answered with its state (queued) as ticketd stopped
}

TEST(Api, SigkillDuringABurstLosesNoAcknowledgedEntry) {
  TempDir dir;
  std::set<std::string> acked;
  {
    TicketdProcess d(dir.path(), kArgs);
    ASSERT_TRUE(d.ok());
    CreateCampaign(*d.Client(), {{"id", "burst"}, {"stock", 1000}, {"win_bps", 500}});
    std::mutex mu;
    std::atomic<bool> killed{false};
    std::thread killer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      killed = true;
      d.Kill(SIGKILL);
    });
    Parallel(d, 50000, 16, [&](httplib::Client& client, int i) {
      if (killed) return;
      std::string user = "b" + std::to_string(i);
      auto r =
          client.Post("/v1/campaigns/burst/entries", Auth(Token(user)), "", "application/json");
      if (r && r->status == 202) {
        std::lock_guard<std::mutex> lock(mu);
        acked.insert(user);
      }
    });
    killer.join();
  }
  ASSERT_GT(acked.size(), 100u);
  TicketdProcess again(dir.path(), kArgs);
  ASSERT_TRUE(again.ok());
  auto c = again.Client();
  for (int i = 0; i < 100 && c->Get("/readyz")->status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::map<std::string, int> seen;
  for (auto& item : Ranking(*c, "burst")) seen[item["user"].get<std::string>()]++;
  for (const auto& user : acked) EXPECT_EQ(seen[user], 1) << user;
  for (const auto& [user, n] : seen) EXPECT_EQ(n, 1) << user;
  EXPECT_EQ(again.Kill(SIGTERM), 0);  // and a SIGTERM drains and exits cleanly
}

}  // namespace
}  // namespace tl::testing
