// JSON bodies to commands (api/*.cc): the api's real routes -- the router,
// authentication, ReadBody, each handler's checks, Submit -- over a backend
// that decides each appended command with the engine's own Decide on a fixed
// state (four campaigns: plain, items chosen at entry, items chosen on
// admission, drawn at close with an entropy source) and answers at once.
// The first byte picks the route (low 3 bits) and the campaign (the rest),
// the second the admin action; the rest is the body.
//
// Checked: every answer is a status the api documents, with a JSON body, an
// error one of the {"error":{"code","message"}} shape; a request answered
// with an error before the log is appended nothing; and every command the
// api appends is one the engine decides (Decide never fails on it: a
// command it cannot decide would stop the engine), for the campaign of the
// path (or of the body's "id"), with the caller as its user.
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/api.h"
#include "api/backend.h"
#include "api/jwt.h"
#include "api/pass.h"
#include "api/router.h"
#include "engine/core/decide.h"
#include "engine/core/limits.h"
#include "engine/core/step.h"
#include "engine/log/decode.h"
#include "fuzz_check.h"
#include "memory_log.h"
#include "quiet_protobuf.h"

namespace {

constexpr char kSecret[] = "fuzz-jwt-secret-0123456789abcdef";

// The campaigns, as commands the engine decides and folds at start.
const char* const kSetup[] = {
    R"({"time_ms":"1767225600000","campaign_id":"plain","create_campaign":{"title":"Plain",)"
    R"("stock":"10","win_bps":5000,"hold_s":60}})",
    R"({"time_ms":"1767225600000","campaign_id":"shop","create_campaign":{"stock":"0","win_bps":)"
    R"(10000,"items":[{"id":"s","stock":"2","per_user_max":1},{"id":"m","stock":"1"}],)"
    R"("per_user_max":2,"choose":"CHOOSE_AT_ENTRY"}})",
    R"({"time_ms":"1767225600000","campaign_id":"popup","create_campaign":{"win_bps":10000,)"
    R"("items":[{"id":"a","stock":"1"}],"choose":"CHOOSE_ON_ADMISSION","choose_s":60}})",
    R"({"time_ms":"1767225600000","campaign_id":"late","create_campaign":{"stock":"1",)"
    R"("win_bps":500,"draw":"DRAW_AT_CLOSE","entropy_source":"drand round 42"}})",
    R"({"time_ms":"1767225600100","campaign_id":"plain","request_entry":{"user_id":"alice"}})",
};
const char* const kCampaigns[] = {"plain", "shop", "popup", "late", "nope", "BAD%20id"};

// The commands log the api appends to: each record is decoded and decided
// at once (the engine's Decide, on the fixed state; nothing is folded, so
// every input meets the same state), then the api hears the progress.
class FuzzBackend final : public tl::api::ApiBackend, public tl::EventLog {
 public:
  FuzzBackend() : ledger_({}) {
    config_.seed_secret = "fuzz-seed-secret-0123456789abcdef";
    tl::EventList events;
    uint64_t offset = 0;
    for (const char* json : kSetup) {
      tl::pb::Command cmd;
      FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(json, &cmd).ok());
      FUZZ_CHECK(
          tl::DecideAndFold(&state_, config_, limits_, cmd, offset++, &events,
                            [](const tl::pb::Event&, std::string&&) { return absl::OkStatus(); })
              .ok());
    }
    next_ = offset;
  }

  // tl::EventLog (the commands log).
  int partitions() const override { return 1; }
  absl::StatusOr<uint64_t> Append(int, std::vector<tl::LogRecord> records) override {
    uint64_t first, end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = next_;
      for (tl::LogRecord& r : records) {
        r.offset = next_++;
        tl::pb::Command command;
        FUZZ_CHECK(tl::DecodeCommand(r, 0, &command).ok());
        tl::EventList events;
        absl::Status st = tl::Decide(state_, config_, limits_, command, r.offset, &events);
        if (!st.ok()) {
          std::fprintf(stderr, "the engine cannot decide an appended command: %s\n%s\n",
                       st.ToString().c_str(), command.DebugString().c_str());
          FUZZ_CHECK(st.ok());
        }
        events_[r.offset].assign(events.begin(), events.end());
        appended_.push_back(std::move(command));
      }
      end = next_;
    }
    if (progress_) progress_(0, end);
    return first;
  }
  absl::Status Read(int, uint64_t, size_t, std::vector<tl::LogRecord>* out) override {
    out->clear();  // nothing the api reads here for these routes
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> EndOffset(int) override {
    std::lock_guard<std::mutex> lock(mu_);
    return next_;
  }
  bool WaitForData(int, uint64_t offset, absl::Duration) override {
    std::lock_guard<std::mutex> lock(mu_);
    return offset < next_;
  }

  // tl::api::ApiBackend.
  const tl::Limits& limits() const override { return limits_; }
  absl::StatusOr<tl::CommandPosition> Submit(const tl::pb::Command& command) override {
    absl::StatusOr<uint64_t> at =
        Append(0, {{0, command.campaign_id(), command.SerializeAsString()}});
    if (!at.ok()) return at.status();
    return tl::CommandPosition{0, *at};
  }
  void WithState(int, const std::function<void(const tl::EngineState&, uint64_t)>& fn) override {
    uint64_t end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      end = next_;
    }
    fn(state_, end);  // never changes after the start
  }
  absl::Status WaitForCommands(int, uint64_t, absl::Duration) override { return absl::OkStatus(); }
  tl::EventLog* commands() override { return this; }
  tl::EventLog* ledger() override { return &ledger_; }
  absl::Status EventsFor(int, uint64_t offset, std::vector<tl::pb::Event>* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = events_.find(offset);
    if (it == events_.end()) return absl::NotFoundError("no such command");
    *out = it->second;
    return absl::OkStatus();
  }
  absl::Status Ready() override { return absl::OkStatus(); }
  void OnProgress(std::function<void(int, uint64_t)> fn) override { progress_ = std::move(fn); }

  // The commands appended since the last call.
  std::vector<tl::pb::Command> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
    return std::exchange(appended_, {});
  }

 private:
  std::mutex mu_;
  tl::EngineState state_;
  tl::EngineConfig config_;
  const tl::Limits limits_;
  uint64_t next_ = 0;
  std::map<uint64_t, std::vector<tl::pb::Event>> events_;
  std::vector<tl::pb::Command> appended_;
  std::function<void(int, uint64_t)> progress_;
  tl::fuzz::MemoryLog ledger_;
};

struct World {
  World() {
    tl::api::ApiOptions o;
    o.jwt_secret = kSecret;
    o.user_rate_per_s = 0;
    o.offload = [](std::function<void()> fn) { fn(); };
    o.pass = std::make_shared<tl::api::PassSigner>(tl::api::PassSigner{tl::api::PassKey::Dev()});
    api = std::make_unique<tl::api::Api>(&backend, o, &metrics);
    api->Register(&router);
    api->Start();
    handler = router.Handler(&metrics, tl::api::CorsPolicy{});
  }
  static std::string Token(const std::string& user, bool admin, bool shop) {
    tl::api::Claims c{user, admin, 4'000'000'000, shop};
    return "Bearer " + tl::api::MintJwt(c, kSecret);
  }
  FuzzBackend backend;
  tl::api::Metrics metrics;
  std::unique_ptr<tl::api::Api> api;
  tl::api::Router router;
  tl::http::Handler handler;
  uint64_t keys = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = [] {
    spdlog::set_level(spdlog::level::off);
    return new World;
  }();
  if (size < 2) return 0;
  const int route = (data[0] & 7) % 6;
  const std::string campaign = kCampaigns[(data[0] >> 3) % 6];
  tl::http::Request req;
  req.method = "POST";
  req.remote_addr = "127.0.0.1";
  req.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  req.headers.emplace_back("Content-Type", "application/json");
  std::string user = "alice";
  static const char* const kActions[] = {"close", "reveal", "restock", "pause", "resume"};
  switch (route) {
    case 0:
      req.path = "/v1/admin/campaigns";
      user = "ops";
      req.headers.emplace_back("Authorization", World::Token(user, true, false));
      break;
    case 1:
      req.path = absl::StrCat("/v1/campaigns/", campaign, "/entries");
      req.headers.emplace_back("Authorization", World::Token(user, false, false));
      break;
    case 2:
      req.path = absl::StrCat("/v1/campaigns/", campaign, "/entries/me/choice");
      req.headers.emplace_back("Authorization", World::Token(user, false, false));
      break;
    case 3:
      req.path = absl::StrCat("/v1/admin/campaigns/", campaign, "/", kActions[data[1] % 5]);
      user = "ops";
      req.headers.emplace_back("Authorization", World::Token(user, true, false));
      break;
    case 4:
      req.path = absl::StrCat("/v1/campaigns/", campaign, "/confirmations");
      user = "shop-1";
      req.headers.emplace_back("Authorization", World::Token(user, false, true));
      req.headers.emplace_back("Idempotency-Key", absl::StrCat("k-", ++w->keys));
      break;
    case 5:
      req.path = "/v1/session";
      req.headers.emplace_back("Authorization", World::Token(user, false, false));
      break;
  }
  auto done = std::make_shared<std::promise<tl::http::Response>>();
  auto answer = done->get_future();
  w->handler(std::move(req), [done](tl::http::Response r) { done->set_value(std::move(r)); });
  FUZZ_CHECK(answer.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  const tl::http::Response r = answer.get();
  const std::vector<tl::pb::Command> sent = w->backend.Take();

  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;  // to look at the seeds
  if (verbose)
    std::fprintf(stderr, "route %d %s: %d %s (%zu appended)\n", route, campaign.c_str(), r.status,
                 r.body.c_str(), sent.size());
  static const std::set<int> kStatuses = {200, 201, 202, 204, 400, 401, 403, 404,
                                          409, 410, 413, 415, 422, 429, 503};
  if (!kStatuses.contains(r.status))
    std::fprintf(stderr, "status %d: %s\n", r.status, r.body.c_str());
  FUZZ_CHECK(kStatuses.contains(r.status));
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  FUZZ_CHECK(r.body.empty() || !body.is_discarded());
  if (r.status >= 400 && sent.empty()) {
    FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"]["code"].is_string() &&
               body["error"]["message"].is_string());
  }
  if (sent.empty()) {
    FUZZ_CHECK(r.status >= 400 || route == 5);  // nothing appended: an error (or a session)
    return 0;
  }
  FUZZ_CHECK(sent.size() == 1);
  const tl::pb::Command& cmd = sent[0];
  FUZZ_CHECK(tl::ValidateCampaignId(cmd.campaign_id(), tl::Limits{}).ok());
  if (route != 0) FUZZ_CHECK(cmd.campaign_id() == campaign);
  if (cmd.has_request_entry()) FUZZ_CHECK(cmd.request_entry().user_id() == user);
  if (cmd.has_choose_item()) FUZZ_CHECK(cmd.choose_item().user_id() == user);
  return 0;
}
