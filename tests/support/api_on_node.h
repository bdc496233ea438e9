// A node-backed api for handler tests: the api's handlers on a real engine
// (the embedded log in a temporary directory, the waiting-room ticker on
// every 50 ms), plain Request values in, Response values out, and live
// streams recorded. Holds, items and other feature tests derive from it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/api.h"
#include "api/jwt.h"
#include "api/pass.h"
#include "api/router.h"
#include "engine/runtime/node.h"
#include "ops/app/backends.h"
#include "tests/support/call_handler.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {

using json = nlohmann::json;
inline constexpr char kSecret[] = "api-on-node-jwt-secret-0123456789";

// What a live stream was sent (the transport's side of a StreamConn).
class RecordingConn : public http::StreamConn {
 public:
  void Send(http::LiveMessage m) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back(std::move(m));
  }
  void Ping() override {}
  void Close() override {}
  std::vector<http::LiveMessage> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  // Waits (5 s at most) for a message whose JSON `pred` accepts.
  std::optional<std::pair<json, bool>> Await(const std::function<bool(const json&)>& pred) {
    for (int i = 0; i < 250; ++i) {
      for (const http::LiveMessage& m : messages()) {
        json j = json::parse(m.data, nullptr, false);
        if (pred(j)) return std::pair{j, m.final};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  absl::Mutex mu_;
  std::vector<http::LiveMessage> messages_;
};

class ApiOnNode : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeOptions o;
    o.data_dir = dir_.path();
    o.config.seed_secret = "api-on-node-seed-secret-0123456789";
    auto opened = Node::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status();
    node_ = std::move(*opened);
    backend_ = std::make_unique<app::NodeBackend>(node_.get());
    api::ApiOptions ao;
    ao.jwt_secret = kSecret;
    ao.user_rate_per_s = 0;
    ao.offload = [](std::function<void()> fn) { fn(); };
    ao.pass = std::make_shared<api::PassSigner>(api::PassSigner{api::PassKey::Dev()});
    ao.live.interval_ms = 20;
    api_ = std::make_unique<api::Api>(backend_.get(), ao, &metrics_);
    api_->Register(&router_);
    // The ticker expires holds whose deadline passed (a Tick carries the time).
    TickerOptions ticker;
    ticker.tick_ms = 50;
    node_->engine().set_ticker(ticker);
    node_->engine().Start();
    api_->Start();
    handler_ = router_.Handler(&metrics_, api::CorsPolicy{});
  }
  void TearDown() override {
    for (auto& s : streams_) s->on_close();
    if (api_) api_->Stop();
    if (node_) node_->engine().Stop();
  }

  http::Response Call(std::string method, std::string target, http::Headers headers = {},
                      std::string body = "") {
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return CallHandler(handler_, std::move(method), std::move(target), std::move(headers),
                       std::move(body));
  }
  static http::Headers As(const std::string& user, bool admin = false, bool shop = false) {
    api::Claims claims{user, admin, time(nullptr) + 600};
    claims.shop = shop;
    return {{"Authorization", "Bearer " + api::MintJwt(claims, kSecret)}};
  }
  static http::Headers Shop(const std::string& key) {
    http::Headers h = As("shop-1", false, true);
    if (!key.empty()) h.emplace_back("Idempotency-Key", key);
    return h;
  }
  static json Body(const http::Response& r) { return json::parse(r.body, nullptr, false); }
  void Create(const json& spec) {
    http::Response r = Call("POST", "/v1/admin/campaigns", As("ops", true), spec.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  json Enter(const std::string& campaign, const std::string& user) {
    http::Headers h = As(user);
    h.emplace_back("Prefer", "wait=5");
    http::Response r = Call("POST", "/v1/campaigns/" + campaign + "/entries", h);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  json Me(const std::string& campaign, const std::string& user) {
    http::Response r = Call("GET", "/v1/campaigns/" + campaign + "/entries/me", As(user));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  json Campaign(const std::string& id) { return Body(Call("GET", "/v1/campaigns/" + id)); }
  http::Response Confirm(const std::string& campaign, const std::string& key, const json& body) {
    http::Headers h = Shop(key);
    h.emplace_back("Prefer", "wait=5");
    return Call("POST", "/v1/campaigns/" + campaign + "/confirmations", h, body.dump());
  }
  // Opens `user`'s live stream (SSE) of `campaign`; the stream ends with the test.
  std::shared_ptr<RecordingConn> Watch(const std::string& campaign, const std::string& user) {
    http::Response r = Call("GET", "/v1/campaigns/" + campaign + "/events", As(user));
    EXPECT_EQ(r.status, 200) << r.body;
    auto conn = std::make_shared<RecordingConn>();
    if (!r.stream) return conn;
    r.stream->on_open(conn);
    streams_.push_back(r.stream);
    return conn;
  }
  // Polls entries/me until its status is `status` (5 s at most).
  json AwaitStatus(const std::string& campaign, const std::string& user,
                   const std::string& status) {
    json me;
    for (int i = 0; i < 100; ++i) {
      // 404 until the engine has decided the entry.
      me = Body(Call("GET", "/v1/campaigns/" + campaign + "/entries/me", As(user)));
      if (me.value("status", "") == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return me;
  }

  TempDir dir_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<app::NodeBackend> backend_;
  api::Metrics metrics_;
  std::unique_ptr<api::Api> api_;
  api::Router router_;
  http::Handler handler_;
  std::vector<std::shared_ptr<http::StreamSpec>> streams_;
};

}  // namespace tl::testing
