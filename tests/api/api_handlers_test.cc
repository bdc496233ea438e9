// The api's handlers without a socket: a real engine on the embedded log in
// a temporary directory, the route table, and plain Request values in,
// Response values out through the Reply completion.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/jwt.h"
#include "api/ops_routes.h"
#include "api/router.h"
#include "engine/core/limits.h"
#include "engine/runtime/node.h"
#include "ops/app/backends.h"
#include "tests/support/call_handler.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;
constexpr char kSecret[] = "handlers-test-jwt-secret-0123456789";

class Handlers : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeOptions o;
    o.data_dir = dir_.path();
    o.config.seed_secret = "handlers-test-seed-secret-0123456789";
    auto opened = Node::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status();
    node_ = std::move(*opened);
    backend_ = std::make_unique<app::NodeBackend>(node_.get());
    api::ApiOptions ao;
    ao.jwt_secret = kSecret;
    ao.user_rate_per_s = 0;
    ao.offload = [](std::function<void()> fn) { fn(); };  // inline: no blocking store here
    api_ = std::make_unique<api::Api>(backend_.get(), ao, &metrics_);
    api_->Register(&router_);
    api::OpsHooks ops;
    ops.ready = [this] { return api_->Ready(); };
    api::RegisterOpsRoutes(&router_, &metrics_, ops, ao.offload);
    node_->engine().Start();
    api_->Start();
    handler_ = router_.Handler(&metrics_, api::CorsPolicy{{"https://shop.test"}});
  }
  void TearDown() override {
    if (api_) api_->Stop();
    if (node_) node_->engine().Stop();
  }

  // Calls the route table as the transport would; waits for the Reply.
  http::Response Call(std::string method, std::string target, http::Headers headers = {},
                      std::string body = "") {
    return testing::CallHandler(handler_, std::move(method), std::move(target), std::move(headers),
                                std::move(body));
  }
  static http::Headers As(const std::string& user, bool admin = false) {
    return {{"Authorization",
             "Bearer " + api::MintJwt(api::Claims{user, admin, time(nullptr) + 600}, kSecret)}};
  }
  static std::string Header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
  void Create(const json& spec) {
    http::Headers h = As("ops", true);
    h.emplace_back("Content-Type", "application/json");
    http::Response r = Call("POST", "/v1/admin/campaigns", h, spec.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  TempDir dir_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<app::NodeBackend> backend_;
  api::Metrics metrics_;
  std::unique_ptr<api::Api> api_;
  api::Router router_;
  http::Handler handler_;
};

TEST_F(Handlers, EntryIsAcceptedOnceDurableAndDecidedWhenWaitedFor) {
  Create({{"id", "c1"}, {"stock", 1}, {"win_bps", 10000}});
  http::Response r = Call("POST", "/v1/campaigns/c1/entries", As("alice"));
  EXPECT_EQ(r.status, 202) << r.body;
  json accepted = json::parse(r.body);
  EXPECT_EQ(accepted["status"], "accepted");
  EXPECT_EQ(Header(r, "Location"), accepted["links"]["request"]);
  http::Headers wait = As("bob");
  wait.emplace_back("Prefer", "wait=5");
  r = Call("POST", "/v1/campaigns/c1/entries", wait);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["status"], "sold_out");  // alice took the one unit
  r = Call("GET", "/v1/campaigns/c1/entries/me", As("alice"));
  EXPECT_EQ(json::parse(r.body)["status"], "won") << r.body;
  r = Call("POST", "/v1/campaigns/c1/entries", wait);  // bob again
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "duplicate");
}

TEST_F(Handlers, ThePipelineRefusesWhatIsWrongWithClearErrors) {
  Create({{"id", "c1"}, {"stock", 1}, {"win_bps", 10000}});
  http::Response r = Call("POST", "/v1/campaigns/c1/entries");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unauthenticated");
  r = Call("POST", "/v1/campaigns/bad%20id/entries", As("alice"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_campaign_id");
  r = Call("POST", "/v1/campaigns/nope/entries", As("alice"));
  EXPECT_EQ(r.status, 404);
  r = Call("GET", "/v1/campaigns/c1/ranking?limit=x");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_query");
  r = Call("POST", "/v1/admin/campaigns/c1/explode", As("ops", true));
  EXPECT_EQ(r.status, 404);
  r = Call("PUT", "/healthz");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET");
  r = Call("GET", "/nowhere");
  EXPECT_EQ(r.status, 404);
}

TEST_F(Handlers, CorsPreflightFollowsTheAllowList) {
  http::Response r =
      Call("OPTIONS", "/v1/campaigns/c1/entries",
           {{"Origin", "https://shop.test"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(Header(r, "Access-Control-Allow-Origin"), "https://shop.test");
  r = Call("OPTIONS", "/v1/campaigns/c1/entries",
           {{"Origin", "https://evil.test"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "origin_not_allowed");
}

TEST_F(Handlers, StreamRoutesAnswerWithAStreamOrSayWhyNot) {
  Create({{"id", "c1"}, {"stock", 1}, {"win_bps", 10000}});
  http::Response r = Call("GET", "/v1/campaigns/c1/events", As("alice"));
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.stream);
  EXPECT_EQ(r.stream->kind, http::StreamSpec::Kind::kSse);
  r.stream->on_close();  // the transport would, when the stream ends
  r = Call("GET", "/v1/campaigns/c1/live", As("alice"));  // no Upgrade
  EXPECT_EQ(r.status, 426);
  r = Call("POST", "/v1/campaigns/c1/stream-tickets", As("alice"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string ticket = json::parse(r.body)["ticket"];
  r = Call("GET", "/v1/campaigns/c1/events?ticket=" + ticket);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.stream);
  if (r.stream) r.stream->on_close();
  r = Call("GET", "/v1/campaigns/c1/entries/me", {{"Authorization", "Bearer " + ticket}});
  EXPECT_EQ(r.status, 401);  // a ticket is no Bearer token
}

// --- the client limits of api/LIMITS.md that had no test of their own ---------

// The error code and message of an answer ("" if it has none).
std::string CodeOf(const http::Response& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}
std::string MessageOf(const http::Response& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("message", "") : "";
}

// Ids, Idempotency-Keys, Last-Event-ID, page sizes, offsets and cursors: one
// past each limit is a 400 with its code; at the limit it is served.
TEST_F(Handlers, IdsKeysPagesAndCursorsOverTheirLimitsAre400) {
  Create({{"id", "c1"}, {"stock", 10}, {"win_bps", 10000}});
  // Campaign id: 64 bytes (limits.h campaign_id_bytes_max) is an id, 65 is not.
  http::Response r = Call("GET", "/v1/campaigns/" + std::string(65, 'a'));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_campaign_id");
  r = Call("GET", "/v1/campaigns/" + std::string(64, 'a'));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(CodeOf(r), "unknown_campaign");
  r = Call("GET", "/v1/campaigns?after=" + std::string(65, 'a'));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_query");
  // User id (the token's sub): 128 bytes (user_id_bytes_max) enter, 129 do not.
  r = Call("POST", "/v1/campaigns/c1/entries", As(std::string(129, 'u')));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_user_id");
  r = Call("POST", "/v1/campaigns/c1/entries", As(std::string(128, 'u')));
  EXPECT_EQ(r.status, 202) << r.body;
  // Idempotency-Key: 64 bytes of printable ASCII (request_id_bytes_max).
  http::Headers h = As("keyed");
  h.emplace_back("Idempotency-Key", std::string(65, 'k'));
  r = Call("POST", "/v1/campaigns/c1/entries", h);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_idempotency_key");
  EXPECT_NE(MessageOf(r).find("64"), std::string::npos) << r.body;
  h.back().second = "k\x01";
  r = Call("POST", "/v1/campaigns/c1/entries", h);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_idempotency_key");
  h.back().second = std::string(64, 'k');
  r = Call("POST", "/v1/campaigns/c1/entries", h);
  EXPECT_EQ(r.status, 202) << r.body;
  // Last-Event-ID is an event id (an integer).
  http::Headers resume = As("alice");
  resume.emplace_back("Last-Event-ID", "yesterday");
  r = Call("GET", "/v1/campaigns/c1/events", resume);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_last_event_id");
  if (r.stream) r.stream->on_close();
  // Pages: `limit` up to ApiOptions::page_max (1000); ranking offset up to
  // 2^32-1; results cursor up to 2^63-1.
  for (const std::string& target :
       {std::string("/v1/campaigns/c1/ranking?limit=1001"),
        std::string("/v1/campaigns/c1/results?limit=1001"), std::string("/v1/campaigns?limit=1001"),
        std::string("/v1/campaigns/c1/ranking?offset=4294967296"),
        std::string("/v1/campaigns/c1/results?cursor=9223372036854775808"),
        std::string("/v1/campaigns/c1/results?item=" + std::string(33, 'i'))}) {
    r = Call("GET", target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    EXPECT_EQ(CodeOf(r), "invalid_query") << target;
  }
  for (const std::string& target :
       {std::string("/v1/campaigns/c1/ranking?limit=1000"),
        std::string("/v1/campaigns/c1/results?limit=1000"), std::string("/v1/campaigns?limit=1000"),
        std::string("/v1/campaigns/c1/ranking?offset=4294967295"),
        std::string("/v1/campaigns/c1/results?cursor=9223372036854775807")}) {
    r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
  }
  // A confirmation's pass_id: 1..128 bytes (kPassIdBytesMax in api/confirm.cc).
  http::Headers shop = As("ops", true);
  shop.emplace_back("Content-Type", "application/json");
  shop.emplace_back("Idempotency-Key", "pay-1");
  r = Call("POST", "/v1/campaigns/c1/confirmations", shop,
           json{{"user", "alice"}, {"pass_id", std::string(129, 'p')}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_field");
  EXPECT_NE(MessageOf(r).find("pass_id"), std::string::npos) << r.body;
}

// The campaign body's limits (engine/core/limits.h): one past each is a 400
// naming the field (the api checks) or the engine's 400 invalid_argument
// (title, a restock past the stock limit); at the limit it is created.
TEST_F(Handlers, EveryCreateLimitIsA400NamingTheField) {
  const Limits lim;
  http::Headers ops = As("ops", true);
  ops.emplace_back("Content-Type", "application/json");
  json items = json::array();
  for (size_t i = 0; i <= lim.items_per_campaign_max; ++i)
    items.push_back({{"id", "i" + std::to_string(i)}, {"stock", 1}});
  struct Case {
    json extra;
    int status;
    std::string code, names;
  };
  for (const Case& k : std::vector<Case>{
           {{{"stock", lim.stock_max + 1}}, 400, "invalid_field", "stock"},
           {{{"admission_rate_per_s", lim.admission_rate_per_s_max + 1}},
            400,
            "invalid_field",
            "admission_rate_per_s"},
           {{{"max_entries", lim.entries_per_campaign_max + 1}},
            400,
            "invalid_field",
            "max_entries"},
           {{{"stock", 0}, {"items", items}}, 400, "invalid_field", "items"},
           {{{"stock", 0}, {"items", {{{"id", std::string(33, 'i')}, {"stock", 1}}}}},
            400,
            "invalid_field",
            "items[0].id"},
           {{{"title", std::string(lim.title_bytes_max + 1, 't')}},
            400,
            "invalid_argument",
            "title"},
       }) {
    json spec = {{"id", "x"}, {"stock", 1}, {"win_bps", 10000}};
    spec.update(k.extra);
    http::Response r = Call("POST", "/v1/admin/campaigns", ops, spec.dump());
    SCOPED_TRACE(spec.dump().substr(0, 200));
    EXPECT_EQ(r.status, k.status) << r.body;
    EXPECT_EQ(CodeOf(r), k.code) << r.body;
    EXPECT_NE(MessageOf(r).find(k.names), std::string::npos) << r.body;
  }
  // At the limits: created.
  items.erase(items.size() - 1);
  Create({{"id", "max"},
          {"stock", lim.stock_max},
          {"win_bps", 10000},
          {"admission_rate_per_s", lim.admission_rate_per_s_max},
          {"max_entries", lim.entries_per_campaign_max},
          {"title", std::string(lim.title_bytes_max, 't')}});
  Create({{"id", "many"}, {"stock", 0}, {"win_bps", 10000}, {"items", items}});
  // A restock past stock_max is the engine's rejection.
  http::Response r = Call("POST", "/v1/admin/campaigns/max/restock", ops, R"({"units":1})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(CodeOf(r), "invalid_argument") << r.body;
  EXPECT_NE(MessageOf(r).find("stock"), std::string::npos) << r.body;
  // entropy_value: 1..256 bytes (entropy_value_bytes_max).
  Create({{"id", "ac"},
          {"stock", 1},
          {"win_bps", 10000},
          {"draw", "at_close"},
          {"entropy_source", "drand quicknet round 1"}});
  for (const std::string& v : {std::string(lim.entropy_value_bytes_max + 1, 'v'), std::string()}) {
    r = Call("POST", "/v1/admin/campaigns/ac/close", ops, json{{"entropy_value", v}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(CodeOf(r), "invalid_field") << r.body;
    EXPECT_NE(MessageOf(r).find("entropy_value"), std::string::npos) << r.body;
  }
  r = Call("POST", "/v1/admin/campaigns/ac/close", ops,
           json{{"entropy_value", std::string(lim.entropy_value_bytes_max, 'v')}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
}

// /v1/admin/overview lists at most kOverviewCampaignsMax campaigns and says
// when there are more (the rest: GET /v1/campaigns?after=).
TEST_F(Handlers, TheOverviewListsAtMostItsCampaignsAndSaysThereAreMore) {
  char id[16];
  for (size_t i = 0; i <= api::kOverviewCampaignsMax; ++i) {
    std::snprintf(id, sizeof id, "c%05zu", i);
    ASSERT_NO_FATAL_FAILURE(Create({{"id", id}, {"stock", 1}, {"win_bps", 10000}}));
  }
  http::Response r = Call("GET", "/v1/admin/overview", As("ops", true));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  json body = json::parse(r.body);
  EXPECT_EQ(body["campaigns"].size(), api::kOverviewCampaignsMax);
  EXPECT_EQ(body["campaigns_truncated"], true);
  r = Call("GET", "/v1/campaigns?limit=1000&after=c00999");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  body = json::parse(r.body);
  ASSERT_EQ(body["campaigns"].size(), 1u) << r.body.substr(0, 300);
  EXPECT_EQ(body["campaigns"][0]["id"], "c01000");
}

// At most kExportsMax (2) ledger export pages are built at once: with two
// held in their blocking step (an offload that waits to be run), a third is
// refused at once with 503 busy and Retry-After; the two then answer.
TEST(HandlerExports, AThirdLedgerExportAtOnceIs503Busy) {
  TempDir dir;
  NodeOptions o;
  o.data_dir = dir.path();
  o.config.seed_secret = "handlers-test-seed-secret-0123456789";
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status();
  app::NodeBackend backend(node->get());
  api::Metrics metrics;
  std::mutex mu;
  std::vector<std::function<void()>> held;
  bool hold = false;
  api::ApiOptions ao;
  ao.jwt_secret = kSecret;
  ao.user_rate_per_s = 0;
  ao.offload = [&](std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (hold) return held.push_back(std::move(fn));
    }
    fn();
  };
  api::Api api(&backend, ao, &metrics);
  api::Router router;
  api.Register(&router);
  (*node)->engine().Start();
  api.Start();
  http::Handler handler = router.Handler(&metrics, api::CorsPolicy{});
  const http::Headers ops = {
      {"Authorization", "Bearer " + api::MintJwt({"ops", true, time(nullptr) + 600}, kSecret)},
      {"Content-Type", "application/json"}};
  http::Response r = CallHandler(handler, "POST", "/v1/admin/campaigns", ops,
                                 R"({"id":"c1","stock":1,"win_bps":10000})");
  ASSERT_EQ(r.status, 201) << r.body;
  for (const char* action : {"close", "reveal"}) {
    r = CallHandler(handler, "POST", std::string("/v1/admin/campaigns/c1/") + action, ops);
    ASSERT_EQ(r.status, 200) << action << ": " << r.body;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    hold = true;
  }
  std::vector<std::future<http::Response>> pending;
  for (int i = 0; i < 2; ++i) {
    auto done = std::make_shared<std::promise<http::Response>>();
    pending.push_back(done->get_future());
    http::Request req;
    req.method = "GET";
    req.path = "/v1/campaigns/c1/ledger";
    req.remote_addr = "127.0.0.1";
    handler(std::move(req), [done](http::Response resp) { done->set_value(std::move(resp)); });
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(held.size(), 2u) << "the two exports did not reach their blocking step";
  }
  r = CallHandler(handler, "GET", "/v1/campaigns/c1/ledger");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(CodeOf(r), "busy") << r.body;
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
  std::vector<std::function<void()>> run;
  {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    run.swap(held);
  }
  for (auto& fn : run) fn();
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(f.get().status, 200);
  }
  r = CallHandler(handler, "GET", "/v1/campaigns/c1/ledger");  // the places are free again
  EXPECT_EQ(r.status, 200) << r.body;
  api.Stop();
  (*node)->engine().Stop();
}
}  // namespace
}  // namespace tl::testing
