// The api's handlers without a socket: a real engine on the embedded log in
// a temporary directory, the route table, and plain Request values in,
// Response values out through the Reply completion.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/jwt.h"
#include "api/ops_routes.h"
#include "api/router.h"
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

}  // namespace
}  // namespace tl::testing
