// Browser sessions: the pages cannot keep a token where a script could read
// it, so the token is exchanged once for an HttpOnly cookie (tl_session,
// SameSite=Strict) that carries the same JWT. Authenticate (pipeline.cc)
// takes the cookie wherever it takes a Bearer token; a request it
// authenticates that is not a GET must carry `X-Requested-With: ticketledger`
// (a header no cross-site form can send). With --dev, POST /v1/dev/session
// signs anyone in by name, for the demo and the browser tests.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/api.h"

namespace tl::api {

using json = nlohmann::json;

std::optional<std::string> SessionCookie(const http::Request& req) {
  for (absl::string_view part : absl::StrSplit(req.Header("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, kSessionCookie) && absl::ConsumePrefix(&part, "="))
      return std::string(part);
  }
  return std::nullopt;
}

std::string SessionCookieHeader(absl::string_view value, int64_t max_age_s, bool secure) {
  return absl::StrCat(kSessionCookie, "=", value,
                      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=", max_age_s,
                      secure ? "; Secure" : "");
}

json Api::SessionJson(const Claims* claims) const {
  if (!claims) return {{"signed_in", false}, {"dev", options_.dev}};
  return {{"signed_in", true},
          {"user", claims->sub},
          {"admin", claims->admin},
          {"expires_at_ms", claims->exp * 1000},
          {"dev", options_.dev}};
}

void Api::SetSession(const CallPtr& c, const Claims& claims, const std::string& token) {
  const int64_t max_age = std::max<int64_t>(claims.exp - absl::ToUnixSeconds(absl::Now()), 1);
  c->headers.emplace_back("Set-Cookie",
                          SessionCookieHeader(token, max_age, options_.cookie_secure));
  c->headers.emplace_back("Cache-Control", "no-store");
  c->Json(200, SessionJson(&claims));
}

void Api::GetSession(const CallPtr& c) {
  c->headers.emplace_back("Cache-Control", "no-store");
  std::optional<std::string> cookie = SessionCookie(c->req);
  if (!cookie) return c->Json(200, SessionJson(nullptr));
  absl::StatusOr<Claims> claims =
      VerifyJwt(*cookie, options_.jwt_secret, absl::ToUnixSeconds(absl::Now()));
  if (claims.ok() && ValidateUserId(claims->sub, backend_->limits()).ok())
    return c->Json(200, SessionJson(&*claims));
  // Expired or forged: not signed in, and the browser forgets it.
  c->headers.emplace_back("Set-Cookie", SessionCookieHeader("", 0, options_.cookie_secure));
  c->Json(200, SessionJson(nullptr));
}

void Api::PostSession(const CallPtr& c) {
  if (c->req.Header("Authorization").empty()) {
    c->headers.emplace_back("WWW-Authenticate", "Bearer");
    return c->Error(401, "unauthenticated",
                    "POST /v1/session takes the token to exchange as Authorization: Bearer <JWT>");
  }
  if (!Authenticate(c, false)) return;
  // The cookie carries the token itself, so the session ends when the token does.
  absl::string_view auth = c->req.Header("Authorization");
  SetSession(c, c->claims, std::string(auth.substr(7)));
}

void Api::DeleteSession(const CallPtr& c) {
  c->headers.emplace_back("Set-Cookie", SessionCookieHeader("", 0, options_.cookie_secure));
  c->headers.emplace_back("Cache-Control", "no-store");
  c->Json(200, SessionJson(nullptr));
}

void Api::DevSession(const CallPtr& c) {
  if (!options_.dev)
    return c->Error(404, "not_found", "the development sign-in is served only by ticketd --dev");
  json b;
  if (!ReadBody(c, &b)) return;
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() != "user" && it.key() != "admin")
      return c->Error(400, "unknown_field", absl::StrCat("unknown field '", it.key(), "'"));
  }
  if (!b.contains("user") || !b["user"].is_string())
    return c->Error(400, "missing_field", "field 'user' (string) is required");
  if (b.contains("admin") && !b["admin"].is_boolean())
    return c->Error(400, "invalid_field", "field 'admin' must be true or false");
  Claims claims;
  claims.sub = b["user"].get<std::string>();
  claims.admin = b.value("admin", false);
  if (absl::Status st = ValidateUserId(claims.sub, backend_->limits()); !st.ok())
    return c->Error(400, "invalid_user_id", st.message());
  claims.exp = absl::ToUnixSeconds(absl::Now()) + kDevSessionSeconds;
  SetSession(c, claims, MintJwt(claims, options_.jwt_secret));
}

}  // namespace tl::api
