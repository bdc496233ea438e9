// The route table and the per-request context. A Router turns an
// http::Request into a Call on the route whose method and path template
// match (OpenAPI templates: /v1/campaigns/{id}), answers CORS preflights,
// 404 and 405 itself, and records every answer in the metrics and, when
// asked, the access log. Handlers see only the Call: no socket, no transport.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/http/message.h"
#include "api/jwt.h"
#include "api/metrics.h"

namespace spdlog {
class logger;
}

namespace tl::api {

// One request being answered. Shared: an asynchronous handler keeps it
// alive until it responds.
struct Call {
  http::Request req;
  http::Reply reply;
  const char* route = "";           // metrics label
  const char* route_path = "-";     // the route's path template, for the access log
  std::vector<std::string> params;  // path parameters, in template order
  http::Headers headers;            // added to the response (CORS, Retry-After, ...)
  Claims claims;                    // once authenticated
  bool by_cookie = false;           // authenticated by the session cookie, not a Bearer token
  std::string campaign;             // the {id} parameter, validated
  int partition = 0;
  Metrics* metrics = nullptr;
  spdlog::logger* access_log = nullptr;  // null: no access log
  std::chrono::steady_clock::time_point start;

  void Respond(http::Response r);
  void Json(int status, const nlohmann::json& body);
  void Error(int status, absl::string_view code, absl::string_view message);
};
using CallPtr = std::shared_ptr<Call>;

// Runs a blocking piece of work (a store read, a Kafka metadata call) off
// the event loops.
using Offload = std::function<void(std::function<void()>)>;

struct CorsPolicy {
  std::set<std::string> origins;  // exact origins ("https://shop.example"); empty: none
  bool Allows(absl::string_view origin) const { return origins.contains(std::string(origin)); }
};

class Router {
 public:
  struct Route {
    std::string method, path, name;
    std::function<void(const CallPtr&)> fn;
  };
  void Add(Route r) { routes_.push_back(std::move(r)); }
  const std::vector<Route>& routes() const { return routes_; }
  // The transport's handler for these routes. The router must outlive it.
  // `access_log`: one line per answer on the "access" logger (method, route
  // template, status, duration; never a header, a token or a query string).
  http::Handler Handler(Metrics* metrics, CorsPolicy cors, bool access_log = false);

 private:
  std::vector<Route> routes_;
};

// Matches `path` against an OpenAPI template; fills the parameters. A
// parameter is one path segment, except a final `{path}`, which takes the
// rest of the path (one segment or more: /assets/{path} matches
// /assets/js/app.js with path "js/app.js").
bool MatchPath(absl::string_view tmpl, absl::string_view path, std::vector<std::string>* params);

}  // namespace tl::api
