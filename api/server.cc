#include "api/server.h"

#include <google/protobuf/util/json_util.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/jwt.h"
#include "engine/draw.h"

namespace tl::api {

using json = nlohmann::json;

namespace {

const char* StatusName(EntryStatus s) {
  switch (s) {
    case EntryStatus::kQueued:
      return "queued";
    case EntryStatus::kWon:
      return "won";
    case EntryStatus::kLost:
      return "lost";
    case EntryStatus::kSoldOut:
      return "sold_out";
    case EntryStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* OutcomeName(pb::Outcome o) {
  switch (o) {
    case pb::OUTCOME_WON:
      return "won";
    case pb::OUTCOME_LOST:
      return "lost";
    case pb::OUTCOME_SOLD_OUT:
      return "sold_out";
    default:
      return "unknown";
  }
}

// One mapping from a rejection to an HTTP answer.
std::pair<int, const char*> RejectionHttp(pb::RejectReason r) {
  switch (r) {
    case pb::REJECT_DUPLICATE:
      return {409, "duplicate"};
    case pb::REJECT_CAMPAIGN_CLOSED:
      return {409, "campaign_closed"};
    case pb::REJECT_UNKNOWN_CAMPAIGN:
      return {404, "unknown_campaign"};
    case pb::REJECT_CAMPAIGN_FULL:
      return {409, "campaign_full"};
    case pb::REJECT_NOT_YET_OPEN:
      return {409, "not_yet_open"};
    case pb::REJECT_INVALID_ARGUMENT:
      return {400, "invalid_argument"};
    case pb::REJECT_CAMPAIGN_EXISTS:
      return {409, "campaign_exists"};
    case pb::REJECT_NOT_CANCELLABLE:
      return {409, "not_cancellable"};
    case pb::REJECT_NOT_DRAINED:
      return {409, "not_drained"};
    case pb::REJECT_ALREADY_REVEALED:
      return {409, "already_revealed"};
    case pb::REJECT_NOT_ENTERED:
      return {404, "not_entered"};
    default:
      return {409, "rejected"};
  }
}

std::string Hex(const std::string& bytes) {
  return ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

json CampaignJson(const CampaignState& c) {
  const auto& s = c.snap;
  const auto& cfg = s.config();
  json j = {{"id", s.campaign_id()},
            {"title", cfg.title()},
            {"stock", cfg.stock()},
            {"win_bps", cfg.win_bps()},
            {"admission_rate_per_s", cfg.admission_rate_per_s()},
            {"queueing", cfg.queueing() == pb::QUEUEING_RANDOM ? "random" : "fifo"},
            {"opens_at_ms", cfg.opens_at_ms()},
            {"max_entries", cfg.max_entries()},
            {"status", s.closed() ? "closed" : "open"},
            {"admission_paused", s.paused()},
            {"entries", c.entries()},
            {"prequeued", s.prequeued()},
            {"serving", s.serving()},
            {"drawn", s.won() + s.lost() + s.sold_out()},
            {"won", s.won()},
            {"lost", s.lost()},
            {"sold_out", s.sold_out()},
            {"cancelled", s.cancelled()},
            {"stock_left", s.stock_left()},
            {"restocked", s.restocked()},
            {"seed_commitment", Hex(s.seed_commitment())}};
  if (s.revealed()) j["seed"] = ToHex(c.seed);
  return j;
}

// An entry as the fold holds it.
EntryView EntryViewOf(const CampaignState& c, std::string_view user) {
  EntryView v;
  const auto& cfg = c.snap.config();
  v.serving = c.snap.serving();
  v.rate = cfg.admission_rate_per_s();
  v.paused = c.snap.paused();
  v.opens_at_ms = cfg.opens_at_ms();
  auto it = c.position_of.find(absl::string_view(user.data(), user.size()));
  if (it == c.position_of.end()) {
    if (auto r = c.rejected_users.find(user); r != c.rejected_users.end()) {
      v.status = "rejected";
      v.reject_reason = pb::RejectReason_Name(static_cast<pb::RejectReason>(r->second));
    }
    return v;
  }
  if (it->second & kPrequeuedBit) {
    v.status = "prequeued";
    return v;
  }
  v.position = it->second;
  v.status = StatusName(c.status[v.position - 1]);
  return v;
}

// The one shape of an entry, from the fold or a read model.
json EntryJson(std::string_view campaign, std::string_view user, const EntryView& v) {
  json j = {{"campaign", std::string(campaign)}, {"user", std::string(user)}};
  if (v.status.empty()) return j;
  j["status"] = v.status;
  if (v.status == "rejected") {
    pb::RejectReason reason = pb::REJECT_REASON_UNSPECIFIED;
    (void)pb::RejectReason_Parse(v.reject_reason, &reason);
    j["reason"] = RejectionHttp(reason).second;
    return j;
  }
  if (v.status == "prequeued") {
    j["opens_at_ms"] = v.opens_at_ms;
    return j;
  }
  j["position"] = v.position;
  j["serving"] = v.serving;
  if (v.status == "queued") {
    uint64_t distance = v.position > v.serving ? v.position - v.serving : 0;
    j["queue_distance"] = distance;  // DESIGN.md's "people ahead": position - serving counter
    j["people_ahead"] = distance > 0 ? distance - 1 : 0;  // users strictly ahead of this one
    if (v.paused) {
      j["estimated_wait_s"] = nullptr;
      j["admission_paused"] = true;
    } else {
      j["estimated_wait_s"] = v.rate == 0 ? 0 : (distance + v.rate - 1) / v.rate;
    }
  }
  return j;
}

json EntryJson(const CampaignState& c, std::string_view user) {
  return EntryJson(c.snap.campaign_id(), user, EntryViewOf(c, user));
}

bool IsFinal(const json& entry) {
  auto s = entry.find("status");
  return s != entry.end() && *s != "queued" && *s != "prequeued";
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

struct Api::Ctx {
  const httplib::Request& req;
  httplib::Response& res;
  std::string route;
  Claims claims;
  std::string campaign;  // from the path, validated
  int partition = 0;

  void Json(int status, const json& j) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
  }
  void Error(int status, absl::string_view code, absl::string_view message) {
    Json(status, {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}});
  }
};

Api::Api(ApiBackend* backend, ApiOptions options)
    : backend_(backend),
      options_(std::move(options)),
      user_limiter_(options_.user_rate_per_s, options_.user_burst),
      ip_limiter_(options_.ip_rate_per_s, options_.ip_burst),
      idempotency_(options_.idempotency_keys_max) {
  metrics_.Declare("ticketledger_http_requests_total", "counter",
                   "HTTP requests by route and status");
  metrics_.Declare("ticketledger_http_request_duration_seconds", "histogram",
                   "HTTP request latency by route and status");
  metrics_.Declare("ticketledger_log_append_seconds", "histogram",
                   "Durable command append latency (group commit included)");
  metrics_.Declare("ticketledger_log_append_errors_total", "counter", "Failed command appends");
  metrics_.Declare("ticketledger_engine_lag_commands", "gauge",
                   "Commands appended but not yet decided, per partition");
  metrics_.Declare("ticketledger_engine_events_total", "counter",
                   "Ledger events folded, per partition (rate() gives the fold rate)");
  metrics_.Declare("ticketledger_draws_total", "counter", "Draws by campaign and outcome");
  metrics_.Declare("ticketledger_stock_left", "gauge", "Stock left by campaign");
  metrics_.Declare("ticketledger_ticks_total", "counter", "Tick commands appended");
  metrics_.Declare("ticketledger_reads_total", "counter",
                   "Entry, ranking and results reads by source: a read model (redis, postgres) "
                   "or the api's own fold (no read model, or it was behind or away)");
}

Api::~Api() { StopTicker(); }

void Api::Handle(const char* route, const httplib::Request& req, httplib::Response& res,
                 void (Api::*fn)(Ctx&)) {
  auto start = std::chrono::steady_clock::now();
  Ctx c{req, res, route, {}, {}, 0};
  std::string client = req.remote_addr;
  if (options_.trust_forwarded_for && req.has_header("X-Forwarded-For")) {
    std::string xff = req.get_header_value("X-Forwarded-For");
    size_t comma = xff.rfind(',');
    client = std::string(
        absl::StripAsciiWhitespace(comma == std::string::npos ? xff : xff.substr(comma + 1)));
  }
  if (double wait = ip_limiter_.Take(client); wait > 0) {
    res.set_header("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
    c.Error(429, "rate_limited", "too many requests from this address");
  } else {
    if (req.matches.size() > 1) {
      c.campaign = req.matches[1];
      if (absl::Status st = ValidateCampaignId(c.campaign, backend_->limits()); !st.ok()) {
        c.Error(400, "invalid_campaign_id", st.message());
        goto done;
      }
      c.partition = PartitionFor(c.campaign, backend_->partitions());
    }
    (this->*fn)(c);
  }
done:
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.Add("ticketledger_http_requests_total",
               {{"route", route}, {"status", std::to_string(res.status)}});
  metrics_.Observe("ticketledger_http_request_duration_seconds",
                   {{"route", route}, {"status", std::to_string(res.status)}}, secs);
}

bool Api::Authenticate(Ctx& c, bool admin) {
  std::string auth = c.req.get_header_value("Authorization");
  if (auth.empty()) {
    c.res.set_header("WWW-Authenticate", "Bearer");
    c.Error(401, "unauthenticated", "missing Authorization: Bearer <token>");
    return false;
  }
  if (auth.rfind("Bearer ", 0) != 0) {
    c.res.set_header("WWW-Authenticate", "Bearer");
    c.Error(401, "unauthenticated", "Authorization must be 'Bearer <token>'");
    return false;
  }
  absl::StatusOr<Claims> claims =
      VerifyJwt(std::string_view(auth).substr(7), options_.jwt_secret, NowMs() / 1000);
  if (!claims.ok()) {
    c.res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    c.Error(401, "unauthenticated", claims.status().message());
    return false;
  }
  if (admin && !claims->admin) {
    c.Error(403, "forbidden", "this route needs a token with role admin");
    return false;
  }
  if (absl::Status st = ValidateUserId(claims->sub, backend_->limits()); !st.ok()) {
    c.Error(400, "invalid_user_id", absl::StrCat("token sub: ", std::string(st.message())));
    return false;
  }
  if (double wait = user_limiter_.Take(claims->sub); wait > 0 && !claims->admin) {
    c.res.set_header("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
    c.Error(429, "rate_limited", "too many requests for this user");
    return false;
  }
  c.claims = std::move(*claims);
  return true;
}

bool Api::ReadBody(Ctx& c, json* out) {
  if (c.req.body.empty()) {
    *out = json::object();
    return true;
  }
  std::string type = c.req.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    c.Error(415, "unsupported_media_type",
            absl::StrCat("Content-Type must be application/json, not '", type.substr(0, 64), "'"));
    return false;
  }
  *out = json::parse(c.req.body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    c.Error(400, "malformed_json", "the body is not valid JSON");
    return false;
  }
  if (!out->is_object()) {
    c.Error(400, "malformed_json", "the body must be a JSON object");
    return false;
  }
  return true;
}

// Returns false (and answers) when the request's Idempotency-Key has an
// answer already, or conflicts.
bool Api::CheckIdempotency(Ctx& c, std::string* key, std::string* hash) {
  std::string k = c.req.get_header_value("Idempotency-Key");
  if (k.empty()) return true;
  if (absl::Status st = ValidateRequestId(k, backend_->limits()); !st.ok()) {
    c.Error(400, "invalid_idempotency_key", st.message());
    return false;
  }
  *key = absl::StrCat(c.claims.sub, "\n", k);
  Hash h = Sha256(absl::StrCat(c.req.method, "\n", c.req.path, "\n", c.req.body));
  *hash = std::string(reinterpret_cast<const char*>(h.data()), h.size());
  StoredResponse stored;
  switch (idempotency_.Find(*key, *hash, &stored)) {
    case IdempotencyCache::Lookup::kMiss:
      return true;
    case IdempotencyCache::Lookup::kHit:
      c.res.status = stored.status;
      c.res.set_content(stored.body, "application/json");
      c.res.set_header("Idempotent-Replayed", "true");
      return false;
    case IdempotencyCache::Lookup::kConflict:
      c.Error(422, "idempotency_key_reused",
              "this Idempotency-Key was used with a different request");
      return false;
  }
  return true;
}

int Api::PreferWait(const Ctx& c) const {
  std::string prefer = c.req.get_header_value("Prefer");
  for (absl::string_view part : absl::StrSplit(prefer, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!absl::StartsWith(part, "wait=")) continue;
    int n = 0;
    if (absl::SimpleAtoi(part.substr(5), &n) && n > 0) return std::min(n, options_.wait_s_max);
  }
  return 0;
}

bool Api::WithCampaign(Ctx& c, const std::function<void(const CampaignState&)>& fn) {
  bool found = false;
  backend_->WithState(c.partition, [&](const EngineState& s, uint64_t) {
    if (const CampaignState* cs = s.Find(c.campaign)) {
      found = true;
      fn(*cs);
    }
  });
  if (!found) c.Error(404, "unknown_campaign", absl::StrCat("no campaign ", c.campaign));
  return found;
}

void Api::SubmitAndAnswer(Ctx& c, pb::Command cmd, int wait_s, int ok_status) {
  cmd.set_time_ms(static_cast<uint64_t>(NowMs()));
  cmd.set_campaign_id(c.campaign);
  std::string idem_key, idem_hash;
  if (!CheckIdempotency(c, &idem_key, &idem_hash)) return;
  cmd.set_request_id(c.req.get_header_value("Idempotency-Key"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<CommandPosition> pos = backend_->Submit(cmd);
  metrics_.Observe("ticketledger_log_append_seconds", {},
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!pos.ok()) {
    metrics_.Add("ticketledger_log_append_errors_total", {});
    c.res.set_header("Retry-After", "1");
    c.Error(503, "log_unavailable",
            absl::StrCat("the command was not stored: ", std::string(pos.status().message())));
    return;
  }
  const std::string ref = absl::StrCat(pos->partition, "-", pos->offset);
  const std::string request_link = absl::StrCat("/v1/campaigns/", c.campaign, "/requests/", ref);
  json accepted = {{"status", "accepted"},
                   {"campaign", c.campaign},
                   {"request", ref},
                   {"links", {{"request", request_link}}}};
  if (cmd.has_request_entry() || cmd.has_cancel_entry()) {
    accepted["user"] = c.claims.sub;
    accepted["links"]["entry"] = absl::StrCat("/v1/campaigns/", c.campaign, "/entries/me");
  }
  int status = 202;
  json body = accepted;
  if (wait_s > 0) {
    absl::Status st =
        backend_->WaitForCommands(pos->partition, pos->offset + 1,
                                  absl::FromChrono(deadline - std::chrono::steady_clock::now()));
    std::vector<pb::Event> events;
    if (st.ok()) st = backend_->EventsFor(pos->partition, pos->offset, &events);
    if (st.ok()) {
      std::tie(status, body) = DescribeDecision(c, events, ok_status);
      body["request"] = ref;
      // An entry queued behind an admission rate: wait on for its draw.
      while (status == 200 && cmd.has_request_entry() && !IsFinal(body) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        WithCampaign(c, [&](const CampaignState& cs) { body = EntryJson(cs, c.claims.sub); });
        body["request"] = ref;
      }
    } else if (!absl::IsDeadlineExceeded(st)) {
      status = 202;  // durable, but the engine cannot answer now; the request link will
      body["engine"] = std::string(st.message());
    }
  }
  if (status == 202) c.res.set_header("Location", request_link);
  c.Json(status, body);
  if (!idem_key.empty()) idempotency_.Store(idem_key, idem_hash, {status, c.res.body});
}

std::pair<int, json> Api::DescribeDecision(Ctx& c, const std::vector<pb::Event>& events,
                                           int ok_status) {
  json body = json::object();
  for (const pb::Event& e : events) {
    if (e.has_entry_rejected()) {
      auto [status, code] = RejectionHttp(e.entry_rejected().reason());
      json err = {{"code", code},
                  {"message", e.entry_rejected().detail()},
                  {"reason", pb::RejectReason_Name(e.entry_rejected().reason())}};
      if (e.entry_rejected().original_position())
        err["original_position"] = e.entry_rejected().original_position();
      return {status, json{{"error", err}}};
    }
  }
  bool entry_event = false;
  for (const pb::Event& e : events) {
    if (e.has_queue_entered() && e.queue_entered().user_id() == c.claims.sub) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.queue_entered().user_id()},
              {"status", "queued"},
              {"position", e.queue_entered().position()}};
      entry_event = true;
    } else if (e.has_entry_prequeued()) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_prequeued().user_id()},
              {"status", "prequeued"}};
      entry_event = true;
    } else if (e.has_draw_resolved() && e.draw_resolved().user_id() == c.claims.sub) {
      body["status"] = OutcomeName(e.draw_resolved().outcome());
      body["draw_value"] = absl::StrCat(e.draw_resolved().draw_value());
    } else if (e.has_entry_cancelled()) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_cancelled().user_id()},
              {"status", "cancelled"},
              {"position", e.entry_cancelled().position()}};
      entry_event = true;
    }
  }
  if (entry_event) {
    if (body["status"] == "queued") {
      WithCampaign(c, [&](const CampaignState& cs) {
        json now = EntryJson(cs, c.claims.sub);
        if (now.contains("status")) body = now;
      });
    }
    return {200, body};
  }
  if (events.size() == 1 && events[0].has_campaign_created()) {
    json created;
    WithCampaign(c, [&](const CampaignState& cs) { created = CampaignJson(cs); });
    return {ok_status, created};
  }
  json list = json::array();
  for (const pb::Event& e : events) {
    std::string text;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(e, &text, opts);
    list.push_back(json::parse(text, nullptr, false));
  }
  return {ok_status, json{{"events", list}}};
}

void Api::PostEntry(Ctx& c) {
  if (!Authenticate(c, false)) return;
  json body;
  if (!ReadBody(c, &body)) return;
  if (!body.empty()) {
    c.Error(400, "unknown_field", absl::StrCat("unknown field '", body.begin().key(), "'"));
    return;
  }
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  cmd.mutable_request_entry()->set_user_id(c.claims.sub);
  SubmitAndAnswer(c, std::move(cmd), PreferWait(c), 200);
}

void Api::CancelEntry(Ctx& c) {
  if (!Authenticate(c, false)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  cmd.mutable_cancel_entry()->set_user_id(c.claims.sub);
  SubmitAndAnswer(c, std::move(cmd), std::max(PreferWait(c), 0), 200);
}

void Api::GetMyEntry(Ctx& c) {
  if (!Authenticate(c, false)) return;
  json body;
  if (!WithCampaign(c, [&](const CampaignState& cs) { body = EntryJson(cs, c.claims.sub); }))
    return;
  if (std::optional<json> stored = StoredEntry(c.partition, c.campaign, c.claims.sub))
    body = std::move(*stored);
  if (!body.contains("status")) {
    c.Error(404, "not_entered",
            "no entry for this user (a request still pending or rejected is reported at its "
            "request link)");
    return;
  }
  c.Json(200, body);
}

void Api::GetRequest(Ctx& c) {
  if (!Authenticate(c, false)) return;
  std::string ref = c.req.matches[2].str();
  std::vector<absl::string_view> parts = absl::StrSplit(ref, '-');
  int partition = 0;
  uint64_t offset = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &partition) ||
      !absl::SimpleAtoi(parts[1], &offset) || partition != c.partition) {
    c.Error(400, "invalid_request_ref", "a request reference is <partition>-<offset>");
    return;
  }
  absl::StatusOr<uint64_t> end = backend_->commands()->EndOffset(partition);
  if (!end.ok() || offset >= *end) {
    c.Error(404, "unknown_request", "no such request");
    return;
  }
  uint64_t decided = 0;
  backend_->WithState(partition,
                      [&](const EngineState&, uint64_t decided_end) { decided = decided_end; });
  if (offset >= decided) {
    c.Json(200, {{"status", "pending"}, {"request", c.req.matches[2].str()}});
    return;
  }
  std::vector<pb::Event> events;
  if (absl::Status st = backend_->EventsFor(partition, offset, &events); !st.ok()) {
    c.Error(500, "ledger_unreadable", st.message());
    return;
  }
  // Only the requester (or an admin) may read a request's answer.
  for (const pb::Event& e : events) {
    if (e.campaign_id() != c.campaign) {
      c.Error(404, "unknown_request", "no such request in this campaign");
      return;
    }
  }
  if (!c.claims.admin) {
    pb::Command cmd;
    std::vector<LogRecord> recs;
    if (!backend_->commands()->Read(partition, offset, 1, &recs).ok() || recs.empty() ||
        !cmd.ParseFromString(recs[0].value) ||
        !((cmd.has_request_entry() && cmd.request_entry().user_id() == c.claims.sub) ||
          (cmd.has_cancel_entry() && cmd.cancel_entry().user_id() == c.claims.sub))) {
      c.Error(403, "forbidden", "this request is not yours");
      return;
    }
  }
  auto [status, body] = DescribeDecision(c, events, 200);
  body["request"] = c.req.matches[2].str();
  c.Json(status, body);
}

void Api::GetCampaign(Ctx& c) {
  json body;
  if (WithCampaign(c, [&](const CampaignState& cs) { body = CampaignJson(cs); })) c.Json(200, body);
}

bool Api::QueryUint(Ctx& c, const char* name, uint64_t dflt, uint64_t max, uint64_t* out) {
  *out = dflt;
  if (!c.req.has_param(name)) return true;
  std::string v = c.req.get_param_value(name);
  if (!absl::SimpleAtoi(v, out) || *out > max) {
    c.Error(400, "invalid_query",
            absl::StrCat("query parameter '", name, "' must be an integer 0..", max));
    return false;
  }
  return true;
}

void Api::GetRanking(Ctx& c) {
  uint64_t offset, limit;
  if (!QueryUint(c, "offset", 0, UINT32_MAX, &offset) ||
      !QueryUint(c, "limit", 100, options_.page_max, &limit))
    return;
  RankingView v;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        uint64_t last = cs.snap.last_position();
        v.serving = cs.snap.serving();
        v.total = last;
        for (uint64_t p = offset + 1; p <= last && v.items.size() < limit; ++p)
          v.items.emplace_back(p, std::string(cs.user_at(p)), StatusName(cs.status[p - 1]));
      }))
    return;
  if (options_.read_model) {
    const uint64_t seq = FoldSequence(c.partition);
    auto stored = options_.read_model->Ranking(c.partition, seq, c.campaign, offset, limit);
    CountRead("ranking", stored.status(), options_.read_model->entry_source());
    if (stored.ok()) v = std::move(*stored);
  }
  json items = json::array();
  for (const auto& [p, user, status] : v.items)
    items.push_back({{"position", p}, {"user", user}, {"status", status}});
  json body = {{"campaign", c.campaign},
               {"serving", v.serving},
               {"total", v.total},
               {"offset", offset},
               {"items", items}};
  if (offset + v.items.size() < v.total) body["next_offset"] = offset + v.items.size();
  c.Json(200, body);
}

void Api::GetResults(Ctx& c) {
  uint64_t cursor, limit;
  if (!QueryUint(c, "cursor", 0, UINT64_MAX >> 1, &cursor) ||
      !QueryUint(c, "limit", 100, options_.page_max, &limit))
    return;
  std::string outcome = c.req.has_param("outcome") ? c.req.get_param_value("outcome") : "";
  int want = -1;
  if (outcome == "won") {
    want = static_cast<int>(EntryStatus::kWon);
  } else if (outcome == "lost") {
    want = static_cast<int>(EntryStatus::kLost);
  } else if (outcome == "sold_out") {
    want = static_cast<int>(EntryStatus::kSoldOut);
  } else if (outcome == "cancelled") {
    want = static_cast<int>(EntryStatus::kCancelled);
  } else if (!outcome.empty()) {
    c.Error(400, "invalid_query", "outcome must be won, lost, sold_out or cancelled");
    return;
  }
  ResultsView v;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        uint64_t serving = cs.snap.serving();
        uint64_t p = cursor + 1;
        // Bound the scan: a rare outcome must not make one request walk millions.
        uint64_t scan_end = std::min(serving, cursor + 100'000);
        for (; p <= scan_end && v.items.size() < limit; ++p) {
          EntryStatus st = cs.status[p - 1];
          if (want >= 0 && static_cast<int>(st) != want) continue;
          v.items.emplace_back(p, std::string(cs.user_at(p)), StatusName(st));
        }
        if (p <= serving) v.next_cursor = p - 1;
      }))
    return;
  if (options_.read_model) {
    const uint64_t seq = FoldSequence(c.partition);
    auto stored =
        options_.read_model->Results(c.partition, seq, c.campaign, cursor, limit, outcome);
    CountRead("results", stored.status(), options_.read_model->results_source());
    if (stored.ok()) v = std::move(*stored);
  }
  json items = json::array();
  for (const auto& [p, user, status] : v.items)
    items.push_back({{"position", p}, {"user", user}, {"outcome", status}});
  json body = {{"campaign", c.campaign}, {"items", items}};
  if (v.next_cursor) body["next_cursor"] = *v.next_cursor;
  c.Json(200, body);
}

void Api::StreamEvents(Ctx& c) {
  if (!Authenticate(c, false)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  if (sse_streams_.fetch_add(1) >= static_cast<int>(options_.sse_streams_max)) {
    sse_streams_.fetch_sub(1);
    c.res.set_header("Retry-After", "5");
    c.Error(503, "too_many_streams", "event streams are at their limit; poll entries/me");
    return;
  }
  struct Stream {
    std::string campaign, user, last;
    int partition;
    std::chrono::steady_clock::time_point end;
    std::unique_ptr<ReadModel::Watch> watch;  // the store's change feed, if any
  };
  auto s = std::make_shared<Stream>(
      Stream{c.campaign, c.claims.sub, "", c.partition,
             std::chrono::steady_clock::now() + std::chrono::seconds(options_.sse_max_s),
             options_.read_model ? options_.read_model->Subscribe(c.campaign) : nullptr});
  c.res.status = 200;
  c.res.set_header("Cache-Control", "no-store");
  c.res.set_chunked_content_provider(
      "text/event-stream",
      [this, s](size_t, httplib::DataSink& sink) {
        json entry;
        backend_->WithState(s->partition, [&](const EngineState& st, uint64_t) {
          if (const CampaignState* cs = st.Find(s->campaign)) entry = EntryJson(*cs, s->user);
        });
        if (std::optional<json> stored = StoredEntry(s->partition, s->campaign, s->user))
          entry = std::move(*stored);
        std::string data = entry.dump();
        if (data != s->last) {
          s->last = data;
          std::string msg = absl::StrCat("event: status\ndata: ", data, "\n\n");
          if (!sink.write(msg.data(), msg.size())) return false;
        }
        if (IsFinal(entry) || std::chrono::steady_clock::now() > s->end) {
          sink.done();
          return true;
        }
        // Woken by the store's pub/sub when there is one, else every 200 ms.
        if (s->watch) {
          s->watch->Wait(absl::Milliseconds(200));
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return sink.is_writable();
      },
      [this](bool) { sse_streams_.fetch_sub(1); });
}

void Api::AdminCreate(Ctx& c) {
  if (!Authenticate(c, true)) return;
  json b;
  if (!ReadBody(c, &b)) return;
  static const std::set<std::string> kFields = {
      "id",       "title",       "stock",       "win_bps",
      "queueing", "opens_at_ms", "max_entries", "admission_rate_per_s"};
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!kFields.contains(it.key())) {
      c.Error(400, "unknown_field", absl::StrCat("unknown field '", it.key(), "'"));
      return;
    }
  }
  auto uint_field = [&](const char* name, uint64_t max, bool required, uint64_t* out) {
    auto it = b.find(name);
    if (it == b.end()) {
      if (required) c.Error(400, "missing_field", absl::StrCat("field '", name, "' is required"));
      return !required;
    }
    if (!it->is_number_unsigned() || it->get<uint64_t>() > max) {
      c.Error(400, "invalid_field", absl::StrCat("field '", name, "' must be an integer 0..", max));
      return false;
    }
    *out = it->get<uint64_t>();
    return true;
  };
  if (!b.contains("id") || !b["id"].is_string()) {
    c.Error(400, "missing_field", "field 'id' (string) is required");
    return;
  }
  c.campaign = b["id"].get<std::string>();
  if (absl::Status st = ValidateCampaignId(c.campaign, backend_->limits()); !st.ok()) {
    c.Error(400, "invalid_campaign_id", st.message());
    return;
  }
  c.partition = PartitionFor(c.campaign, backend_->partitions());
  pb::Command cmd;
  auto* cc = cmd.mutable_create_campaign();
  uint64_t stock = 0, bps = 0, rate = 0, opens = 0, max_entries = 0;
  const Limits& lim = backend_->limits();
  if (!uint_field("stock", lim.stock_max, true, &stock) ||
      !uint_field("win_bps", 10000, true, &bps) ||
      !uint_field("admission_rate_per_s", lim.admission_rate_per_s_max, false, &rate) ||
      !uint_field("opens_at_ms", UINT64_MAX >> 1, false, &opens) ||
      !uint_field("max_entries", lim.entries_per_campaign_max, false, &max_entries))
    return;
  if (b.contains("title")) {
    if (!b["title"].is_string()) {
      c.Error(400, "invalid_field", "field 'title' must be a string");
      return;
    }
    cc->set_title(b["title"].get<std::string>());
  }
  if (b.contains("queueing")) {
    if (!b["queueing"].is_string() || (b["queueing"] != "fifo" && b["queueing"] != "random")) {
      c.Error(400, "invalid_field", "field 'queueing' must be \"fifo\" or \"random\"");
      return;
    }
    cc->set_queueing(b["queueing"] == "random" ? pb::QUEUEING_RANDOM : pb::QUEUEING_FIFO);
  }
  cc->set_stock(stock);
  cc->set_win_bps(static_cast<uint32_t>(bps));
  cc->set_admission_rate_per_s(static_cast<uint32_t>(rate));
  cc->set_opens_at_ms(opens);
  cc->set_max_entries(max_entries);
  SubmitAndAnswer(c, std::move(cmd), std::max(PreferWait(c), 5), 201);
}

void Api::AdminCommand(Ctx& c) {
  if (!Authenticate(c, true)) return;
  json b;
  if (!ReadBody(c, &b)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  const std::string action = c.req.matches[2];
  pb::Command cmd;
  if (action == "restock") {
    auto it = b.find("units");
    if (it == b.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0) {
      c.Error(400, "invalid_field", "field 'units' must be an integer > 0");
      return;
    }
    cmd.mutable_restock()->set_units(it->get<uint64_t>());
  } else if (!b.empty()) {
    c.Error(400, "unknown_field", absl::StrCat("unknown field '", b.begin().key(), "'"));
    return;
  } else if (action == "close") {
    cmd.mutable_close_campaign();
  } else if (action == "reveal") {
    cmd.mutable_reveal_seed();
  } else if (action == "pause") {
    cmd.mutable_pause_admission();
  } else if (action == "resume") {
    cmd.mutable_resume_admission();
  }
  SubmitAndAnswer(c, std::move(cmd), std::max(PreferWait(c), 5), 200);
}

absl::Status Api::Ready() { return backend_->Ready(); }

uint64_t Api::FoldSequence(int partition) {
  uint64_t seq = 0;
  backend_->WithState(partition, [&](const EngineState& s, uint64_t) { seq = s.next_sequence; });
  return seq;
}

void Api::CountRead(const char* route, const absl::Status& st, const char* store) {
  metrics_.Add("ticketledger_reads_total",
               {{"route", route}, {"source", st.ok() ? store : "fold"}});
}

std::optional<json> Api::StoredEntry(int partition, const std::string& campaign,
                                     const std::string& user) {
  if (!options_.read_model) return std::nullopt;
  const uint64_t seq = FoldSequence(partition);  // the store must be at least here
  auto v = options_.read_model->Entry(partition, seq, campaign, user);
  CountRead("entry", v.status(), options_.read_model->entry_source());
  if (!v.ok()) return std::nullopt;
  return EntryJson(campaign, user, *v);
}

void Api::Healthz(Ctx& c) { c.Json(200, {{"status", "ok"}}); }

void Api::Readyz(Ctx& c) {
  absl::Status st = Ready();
  if (st.ok()) {
    json body = {{"status", "ready"}};
    // A read model that is behind does not stop writes: still ready, and
    // says which store is behind and by how much.
    if (options_.extra_ready) {
      if (absl::Status rm = options_.extra_ready(); !rm.ok())
        body["read_models"] = {{"status", "behind"}, {"message", std::string(rm.message())}};
    }
    c.Json(200, body);
  } else {
    c.Error(503, "not_ready", st.message());
  }
}

void Api::MetricsPage(Ctx& c) {
  for (int p = 0; p < backend_->partitions(); ++p) {
    absl::StatusOr<uint64_t> end = backend_->commands()->EndOffset(p);
    backend_->WithState(p, [&](const EngineState& s, uint64_t decided_end) {
      Labels part = {{"partition", std::to_string(p)}};
      if (end.ok())
        metrics_.Set("ticketledger_engine_lag_commands", part,
                     static_cast<double>(*end - decided_end));
      metrics_.Set("ticketledger_engine_events_total", part,
                   static_cast<double>(s.next_sequence - 1));
      for (const auto& [id, cs] : s.campaigns) {
        metrics_.Set("ticketledger_stock_left", {{"campaign", id}},
                     static_cast<double>(cs->snap.stock_left()));
        for (auto [name, v] : {std::pair{"won", cs->snap.won()},
                               {"lost", cs->snap.lost()},
                               {"sold_out", cs->snap.sold_out()}}) {
          metrics_.Set("ticketledger_draws_total", {{"campaign", id}, {"outcome", name}},
                       static_cast<double>(v));
        }
      }
    });
  }
  if (options_.extra_metrics) options_.extra_metrics(&metrics_);
  c.res.status = 200;
  c.res.set_content(metrics_.Render(), "text/plain; version=0.0.4");
}

void Api::OpenApi(Ctx& c) {
  c.res.status = 200;
  c.res.set_content(OpenApiDocument(), "application/json");
}

const std::vector<Api::Route>& Api::Routes() {
  static const std::vector<Route> kRoutes = {
      {"POST", "/v1/campaigns/{id}/entries", "post_entry", &Api::PostEntry},
      {"GET", "/v1/campaigns/{id}/entries/me", "get_entry", &Api::GetMyEntry},
      {"DELETE", "/v1/campaigns/{id}/entries/me", "cancel_entry", &Api::CancelEntry},
      {"GET", "/v1/campaigns/{id}/requests/{ref}", "get_request", &Api::GetRequest},
      {"GET", "/v1/campaigns/{id}/events", "events", &Api::StreamEvents},
      {"GET", "/v1/campaigns/{id}/ranking", "ranking", &Api::GetRanking},
      {"GET", "/v1/campaigns/{id}/results", "results", &Api::GetResults},
      {"GET", "/v1/campaigns/{id}", "get_campaign", &Api::GetCampaign},
      {"POST", "/v1/admin/campaigns", "admin_create", &Api::AdminCreate},
      {"POST", "/v1/admin/campaigns/{id}/{action}", "admin_command", &Api::AdminCommand},
      {"GET", "/healthz", "healthz", &Api::Healthz},
      {"GET", "/readyz", "readyz", &Api::Readyz},
      {"GET", "/metrics", "metrics", &Api::MetricsPage},
      {"GET", "/openapi.json", "openapi", &Api::OpenApi},
  };
  return kRoutes;
}

void Api::Register(httplib::Server* svr) {
  for (const Route& r : Routes()) {
    // OpenAPI templates become the router's regexes.
    std::string pattern = r.path;
    auto replace = [&](const std::string& from, const std::string& to) {
      if (size_t at = pattern.find(from); at != std::string::npos)
        pattern.replace(at, from.size(), to);
    };
    replace("{id}", "([^/]+)");
    replace("{ref}", "([0-9]+-[0-9]+)");
    replace("{action}", "(close|reveal|restock|pause|resume)");
    auto handler = [this, name = r.name, fn = r.fn](const httplib::Request& req,
                                                    httplib::Response& res) {
      Handle(name, req, res, fn);
    };
    if (r.method == std::string("GET")) {
      svr->Get(pattern, handler);
    } else if (r.method == std::string("POST")) {
      svr->Post(pattern, handler);
    } else {
      svr->Delete(pattern, handler);
    }
  }

  // Errors httplib raises itself (no route, body too large, unparsable
  // request) get the same JSON shape as ours.
  svr->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* code = res.status == 404   ? "not_found"
                       : res.status == 413 ? "payload_too_large"
                       : res.status == 405 ? "method_not_allowed"
                                           : "bad_request";
    std::string message = res.status == 404
                              ? absl::StrCat("no route for ", req.method, " ", req.path)
                          : res.status == 413 ? "the body is over the size limit"
                                              : "the request could not be processed";
    res.set_content(json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                    "application/json");
  });
  svr->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unexpected error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(json{{"error", {{"code", "internal"}, {"message", what}}}}.dump(),
                        "application/json");
      });
}

void Api::StartTicker() {
  if (options_.tick_ms == 0 || ticking_.exchange(true)) return;
  ticker_ = std::thread([this] { TickLoop(); });
}

void Api::StopTicker() {
  if (!ticking_.exchange(false)) return;
  if (ticker_.joinable()) ticker_.join();
}

void Api::TickLoop() {
  while (ticking_) {
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.tick_ms);
    const uint64_t now = static_cast<uint64_t>(NowMs());
    for (int p = 0; p < backend_->partitions(); ++p) {
      std::vector<std::string> due;
      backend_->WithState(p, [&](const EngineState& s, uint64_t) {
        for (const auto& [id, cs] : s.campaigns) {
          const auto& snap = cs->snap;
          bool random_opening = snap.config().queueing() == pb::QUEUEING_RANDOM && !snap.opened() &&
                                now >= snap.config().opens_at_ms();
          bool moving =
              snap.config().admission_rate_per_s() > 0 && !snap.paused() && cs->waiting() > 0;
          if (random_opening || moving) due.push_back(id);
        }
      });
      for (const std::string& id : due) {
        pb::Command tick;
        tick.set_time_ms(now);
        tick.set_campaign_id(id);
        tick.mutable_tick();
        if (backend_->Submit(tick).ok()) metrics_.Add("ticketledger_ticks_total", {});
      }
    }
    std::this_thread::sleep_until(next);
  }
}

absl::StatusOr<int> Bind(httplib::Server* svr, const ServerOptions& o) {
  svr->new_task_queue = [n = o.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  svr->set_tcp_nodelay(true);
  svr->set_keep_alive_max_count(o.keep_alive_max_count);
  svr->set_keep_alive_timeout(o.keep_alive_timeout_s);
  svr->set_read_timeout(o.read_timeout_s, 0);
  svr->set_write_timeout(o.write_timeout_s, 0);
  svr->set_payload_max_length(o.body_bytes_max);
  // The Debian build listens with a backlog of 5, which a burst of connects
  // overflows (measured); Linux lets a second listen() raise it.
  auto fd = std::make_shared<int>(-1);
  svr->set_socket_options([fd](int sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *fd = sock;
  });
  int port = o.port == 0 ? svr->bind_to_any_port(o.host)
                         : (svr->bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.host, ":", o.port));
  if (*fd >= 0 && ::listen(*fd, o.listen_backlog) != 0)
    return absl::UnavailableError("cannot raise the listen backlog");
  return port;
}

}  // namespace tl::api
