#include "api/router.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/logger.h"

namespace tl::api {

void Call::Respond(http::Response r) {
  for (auto& h : headers) r.headers.push_back(std::move(h));
  headers.clear();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics) {
    const std::string status = std::to_string(r.status);
    metrics->Add("ticketledger_http_requests_total", {{"route", route}, {"status", status}});
    metrics->Observe("ticketledger_http_request_duration_seconds",
                     {{"route", route}, {"status", status}}, seconds);
  }
  // The route's template, not the path: no ids, no query string, no token.
  if (access_log)
    access_log->info("{} {} {} {:.3f}ms", req.method, route_path, r.status, seconds * 1e3);
  reply(std::move(r));
}

void Call::Json(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump();
  Respond(std::move(r));
}

void Call::Error(int status, absl::string_view code, absl::string_view message) {
  Respond(http::ErrorResponse(status, code, message));
}

bool MatchPath(absl::string_view tmpl, absl::string_view path, std::vector<std::string>* params) {
  params->clear();
  std::vector<absl::string_view> t = absl::StrSplit(tmpl, '/');
  std::vector<absl::string_view> p = absl::StrSplit(path, '/');
  // A final {path} takes the rest of the path, one segment or more (/assets/{path}).
  const bool rest = !t.empty() && t.back() == "{path}";
  if (rest ? p.size() < t.size() : t.size() != p.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (rest && i + 1 == t.size()) {
      absl::string_view tail = path.substr(static_cast<size_t>(p[i].data() - path.data()));
      if (tail.empty()) return false;
      params->emplace_back(tail);
      break;
    }
    if (t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}') {
      if (p[i].empty()) return false;
      params->emplace_back(p[i]);
    } else if (t[i] != p[i]) {
      return false;
    }
  }
  return true;
}

http::Handler Router::Handler(Metrics* metrics, CorsPolicy cors, bool access_log) {
  metrics->Declare("ticketledger_http_requests_total", "counter",
                   "HTTP requests by route and status");
  metrics->Declare("ticketledger_http_request_duration_seconds", "histogram",
                   "HTTP request latency by route and status");
  std::shared_ptr<spdlog::logger> access = access_log ? Logger("access") : nullptr;
  return [this, metrics, cors = std::move(cors), access](http::Request&& req, http::Reply reply) {
    auto call = std::make_shared<Call>();
    call->start = std::chrono::steady_clock::now();
    call->req = std::move(req);
    call->reply = std::move(reply);
    call->metrics = metrics;
    call->access_log = access.get();
    const absl::string_view origin = call->req.Header("Origin");
    const bool allowed = !origin.empty() && cors.Allows(origin);
    if (allowed) {
      call->headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
      call->headers.emplace_back("Vary", "Origin");
      call->headers.emplace_back("Access-Control-Expose-Headers",
                                 "Location, Retry-After, Idempotent-Replayed");
    }
    if (call->req.method == "OPTIONS") {  // a CORS preflight
      call->route = "preflight";
      call->route_path = "(preflight)";
      if (!origin.empty() && !allowed)
        return call->Error(403, "origin_not_allowed",
                           absl::StrCat("origin '", origin.substr(0, 128),
                                        "' is not in this server's CORS allow-list"));
      call->headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      call->headers.emplace_back(
          "Access-Control-Allow-Headers",
          "Authorization, Content-Type, Idempotency-Key, Prefer, Last-Event-ID");
      call->headers.emplace_back("Access-Control-Max-Age", "600");
      http::Response r;
      r.status = 204;
      return call->Respond(std::move(r));
    }
    std::vector<std::string> allow;
    for (const Route& r : routes_) {
      if (!MatchPath(r.path, call->req.path, &call->params)) continue;
      if (r.method != call->req.method) {
        allow.push_back(r.method);
        continue;
      }
      call->route = r.name.c_str();
      call->route_path = r.path.c_str();
      return r.fn(call);
    }
    call->route = "unmatched";
    call->route_path = "(unmatched)";
    if (!allow.empty()) {
      call->headers.emplace_back("Allow", absl::StrJoin(allow, ", "));
      return call->Error(405, "method_not_allowed",
                         absl::StrCat(call->req.method, " is not served on ", call->req.path));
    }
    call->Error(
        404, "not_found",
        absl::StrCat("no route for ", call->req.method, " ", call->req.path.substr(0, 256)));
  };
}

}  // namespace tl::api
