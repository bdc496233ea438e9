// The live channel's routes: SSE (/events), WebSocket (/live), and the
// stream tickets that let a browser open them (EventSource and WebSocket
// cannot send an Authorization header; a page of ticketd's own origin sends
// the session cookie instead, session.cc). A ticket is a JWT signed with a key
// derived from the token secret and the campaign, so it opens that
// campaign's streams for that user only, and is no Bearer token anywhere.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "engine/core/hash.h"

namespace tl::api {

using json = nlohmann::json;

namespace {

std::string TicketKey(const std::string& secret, const std::string& campaign) {
  return ToHex(Sha256(absl::StrCat("ticketledger/stream-ticket/v1\n", secret, "\n", campaign)));
}

}  // namespace

void Api::StreamTicket(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + options_.stream_ticket_ttl_s;
  const std::string ticket =
      MintJwt(Claims{c->claims.sub, false, exp}, TicketKey(options_.jwt_secret, c->campaign));
  const std::string base = absl::StrCat("/v1/campaigns/", c->campaign);
  c->Json(201, {{"ticket", ticket},
                {"user", c->claims.sub},
                {"campaign", c->campaign},
                {"expires_at_ms", exp * 1000},
                {"links",
                 {{"events", absl::StrCat(base, "/events?ticket=", ticket)},
                  {"live", absl::StrCat(base, "/live?ticket=", ticket)}}}});
}

void Api::StreamEvents(const CallPtr& c) { OpenStream(c, http::StreamSpec::Kind::kSse); }

void Api::StreamWebSocket(const CallPtr& c) {
  if (!c->req.websocket)
    return c->Error(426, "upgrade_required", "this route speaks WebSocket (Upgrade: websocket)");
  OpenStream(c, http::StreamSpec::Kind::kWebSocket);
}

void Api::OpenStream(const CallPtr& c, http::StreamSpec::Kind kind) {
  if (std::optional<std::string> ticket = c->req.Query("ticket")) {
    absl::StatusOr<Claims> claims = VerifyJwt(*ticket, TicketKey(options_.jwt_secret, c->campaign),
                                              absl::ToUnixSeconds(absl::Now()));
    if (!claims.ok())
      return c->Error(401, "invalid_ticket",
                      absl::StrCat("stream ticket: ", std::string(claims.status().message())));
    c->claims = std::move(*claims);
  } else if (!Authenticate(c, false)) {
    return;
  }
  // A WebSocket has no CORS: a page of another site could open one and the
  // browser would send the cookie along. Signed in by the cookie, the stream
  // must come from a page of this origin (EventSource too, for the same rule).
  if (c->by_cookie) {
    absl::string_view origin = c->req.Header("Origin");
    absl::string_view host = c->req.Header("Host");
    if (!origin.empty() && origin != absl::StrCat("http://", host) &&
        origin != absl::StrCat("https://", host))
      return c->Error(403, "origin_not_allowed",
                      "a live stream signed in by the session cookie must come from a page of "
                      "this origin (others use a stream ticket)");
  }
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  uint64_t last_id = 0;
  absl::string_view header = c->req.Header("Last-Event-ID");
  std::string resume =
      header.empty() ? c->req.Query("last_event_id").value_or("") : std::string(header);
  if (!resume.empty() && !absl::SimpleAtoi(resume, &last_id))
    return c->Error(400, "invalid_last_event_id", "Last-Event-ID must be an event id (an integer)");
  absl::StatusOr<std::shared_ptr<LiveHub::Watcher>> w =
      live_.Reserve(c->campaign, c->partition, c->claims.sub, c->req.remote_addr, last_id);
  if (!w.ok()) {
    c->headers.emplace_back("Retry-After", "5");
    if (absl::IsResourceExhausted(w.status()))
      return c->Error(429, "too_many_streams", w.status().message());
    return c->Error(503, "too_many_streams", w.status().message());
  }
  http::Response r;
  r.stream = std::make_shared<http::StreamSpec>();
  r.stream->kind = kind;
  r.stream->on_open = [this, watcher = *w](std::shared_ptr<http::StreamConn> conn) {
    live_.Open(watcher, std::move(conn));
  };
  r.stream->on_close = [this, watcher = *w] { live_.Release(watcher); };
  c->Respond(std::move(r));
}

}  // namespace tl::api
