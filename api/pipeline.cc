// What every api request goes through before its handler: the client
// address's rate limit, the campaign id from the path, and on demand
// authentication, the JSON body, Idempotency-Key and Prefer: wait.
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/jwt.h"
#include "engine/core/hash.h"

namespace tl::api {

using json = nlohmann::json;

void Api::Run(void (Api::*fn)(const CallPtr&), const CallPtr& c) {
  std::string client = c->req.remote_addr;
  if (options_.trust_forwarded_for) {
    absl::string_view xff = c->req.Header("X-Forwarded-For");
    if (!xff.empty()) {
      size_t comma = xff.rfind(',');
      client = std::string(
          absl::StripAsciiWhitespace(comma == std::string::npos ? xff : xff.substr(comma + 1)));
    }
  }
  if (double wait = ip_limiter_.Take(client); wait > 0) {
    c->headers.emplace_back("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
    return c->Error(429, "rate_limited", "too many requests from this address");
  }
  if (absl::StartsWith(c->req.path, "/v1/campaigns/") ||
      (absl::StartsWith(c->req.path, "/v1/admin/campaigns/") && !c->params.empty())) {
    c->campaign = c->params.at(0);
    if (absl::Status st = ValidateCampaignId(c->campaign, backend_->limits()); !st.ok())
      return c->Error(400, "invalid_campaign_id", st.message());
    c->partition = PartitionFor(c->campaign, backend_->partitions());
  }
  (this->*fn)(c);
}

bool Api::Authenticate(const CallPtr& c, bool admin) {
  absl::string_view auth = c->req.Header("Authorization");
  std::optional<std::string> cookie;
  if (auth.empty()) cookie = SessionCookie(c->req);
  if (auth.empty() && !cookie) {
    c->headers.emplace_back("WWW-Authenticate", "Bearer");
    c->Error(401, "unauthenticated", "missing Authorization: Bearer <token> (or a session cookie)");
    return false;
  }
  if (!cookie && !absl::StartsWith(auth, "Bearer ")) {
    c->headers.emplace_back("WWW-Authenticate", "Bearer");
    c->Error(401, "unauthenticated", "Authorization must be 'Bearer <token>'");
    return false;
  }
  // A browser sends the cookie along with any request to this origin, also
  // one another site makes it send: what changes state must carry a header
  // only a script of this origin can add.
  if (cookie && c->req.method != "GET" && c->req.method != "HEAD" &&
      c->req.Header("X-Requested-With") != kRequestedWith) {
    c->Error(403, "csrf",
             absl::StrCat("a request signed in by the session cookie must carry X-Requested-With: ",
                          kRequestedWith));
    return false;
  }
  absl::StatusOr<Claims> claims = VerifyJwt(
      cookie ? std::string_view(*cookie) : std::string_view(auth.data() + 7, auth.size() - 7),
      options_.jwt_secret, absl::ToUnixSeconds(absl::Now()));
  if (!claims.ok()) {
    if (cookie) {
      c->headers.emplace_back("Set-Cookie", SessionCookieHeader("", 0, options_.cookie_secure));
      c->Error(401, "unauthenticated",
               absl::StrCat("session cookie: ", std::string(claims.status().message())));
      return false;
    }
    c->headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    c->Error(401, "unauthenticated", claims.status().message());
    return false;
  }
  if (admin && !claims->admin) {
    c->Error(403, "forbidden", "this route needs a token with role admin");
    return false;
  }
  if (absl::Status st = ValidateUserId(claims->sub, backend_->limits()); !st.ok()) {
    c->Error(400, "invalid_user_id", absl::StrCat("token sub: ", std::string(st.message())));
    return false;
  }
  // The operator and a shop act for many users: not limited as one user.
  if (double wait = user_limiter_.Take(claims->sub); wait > 0 && !claims->admin && !claims->shop) {
    c->headers.emplace_back("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
    c->Error(429, "rate_limited", "too many requests for this user");
    return false;
  }
  c->claims = std::move(*claims);
  c->by_cookie = cookie.has_value();
  return true;
}

bool Api::ReadBody(const CallPtr& c, json* out) {
  if (c->req.body.empty()) {
    *out = json::object();
    return true;
  }
  absl::string_view type = c->req.Header("Content-Type");
  if (!absl::StartsWith(type, "application/json")) {
    c->Error(415, "unsupported_media_type",
             absl::StrCat("Content-Type must be application/json, not '", type.substr(0, 64), "'"));
    return false;
  }
  *out = json::parse(c->req.body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    c->Error(400, "malformed_json", "the body is not valid JSON");
    return false;
  }
  if (!out->is_object()) {
    c->Error(400, "malformed_json", "the body must be a JSON object");
    return false;
  }
  return true;
}

bool Api::CheckIdempotency(const CallPtr& c, std::string* key, std::string* hash) {
  std::string k(c->req.Header("Idempotency-Key"));
  if (k.empty()) return true;
  if (absl::Status st = ValidateRequestId(k, backend_->limits()); !st.ok()) {
    c->Error(400, "invalid_idempotency_key", st.message());
    return false;
  }
  *key = absl::StrCat(c->claims.sub, "\n", k);
  Hash h = Sha256(absl::StrCat(c->req.method, "\n", c->req.path, "\n", c->req.body));
  *hash = std::string(reinterpret_cast<const char*>(h.data()), h.size());
  StoredResponse stored;
  switch (idempotency_.Find(*key, *hash, &stored)) {
    case IdempotencyCache::Lookup::kMiss:
      return true;
    case IdempotencyCache::Lookup::kHit: {
      http::Response r;
      r.status = stored.status;
      r.body = std::move(stored.body);
      r.Set("Idempotent-Replayed", "true");
      c->Respond(std::move(r));
      return false;
    }
    case IdempotencyCache::Lookup::kConflict:
      c->Error(422, "idempotency_key_reused",
               "this Idempotency-Key was used with a different request");
      return false;
  }
  return true;
}

int Api::PreferWait(const CallPtr& c) const {
  for (absl::string_view part : absl::StrSplit(c->req.Header("Prefer"), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!absl::StartsWith(part, "wait=")) continue;
    int n = 0;
    if (absl::SimpleAtoi(part.substr(5), &n) && n > 0) return std::min(n, options_.wait_s_max);
  }
  return 0;
}

bool Api::WithCampaign(const CallPtr& c, const std::function<void(const CampaignState&)>& fn) {
  bool found = false;
  backend_->WithState(c->partition, [&](const EngineState& s, uint64_t) {
    if (const CampaignState* cs = s.Find(c->campaign)) {
      found = true;
      fn(*cs);
    }
  });
  if (!found) c->Error(404, "unknown_campaign", absl::StrCat("no campaign ", c->campaign));
  return found;
}

bool Api::QueryUint(const CallPtr& c, const char* name, uint64_t dflt, uint64_t max,
                    uint64_t* out) {
  *out = dflt;
  std::optional<std::string> v = c->req.Query(name);
  if (!v) return true;
  if (!absl::SimpleAtoi(*v, out) || *out > max) {
    c->Error(400, "invalid_query",
             absl::StrCat("query parameter '", name, "' must be an integer 0..", max));
    return false;
  }
  return true;
}

}  // namespace tl::api
