// The HTTP API of a single-node ticketd (role `all`): routes, auth, limits,
// the waiting-room ticker. Handlers append commands to the node's commands
// log and answer 202 once the append is durable; reads come from the engine's
// in-memory state (between engine steps).
//
// Connection model (cpp-httplib): one worker thread per open connection,
// `threads` workers. A POST holds its worker while its group commit syncs
// (~0.2 ms); keep-alive connections hold a worker while idle for up to
// keep_alive_timeout_s. So one ticketd serves `threads` concurrent
// connections; put a proxy that multiplexes many clients onto few upstream
// keep-alive connections in front for thousands (ops/nginx.conf).
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "api/backend.h"
#include "api/idempotency.h"
#include "api/metrics.h"
#include "api/rate_limiter.h"
#include "api/read_model.h"
#include "engine/node.h"

namespace tl::api {

struct ApiOptions {
  std::string jwt_secret;      // HS256 key for user and admin tokens
  int wait_s_max = 10;         // cap for `Prefer: wait=N`
  uint64_t tick_ms = 100;      // waiting-room tick interval
  double user_rate_per_s = 5;  // token bucket per user (0 = off)
  double user_burst = 10;
  double ip_rate_per_s = 0;  // token bucket per client address (0 = off)
  double ip_burst = 100;
  // Behind a proxy (ops/nginx.conf) the client address is the last entry of
  // X-Forwarded-For; trust it only when the proxy sets it.
  bool trust_forwarded_for = false;
  size_t idempotency_keys_max = 100'000;
  size_t sse_streams_max = 4;  // each stream holds a worker thread
  int sse_max_s = 600;         // a stream ends after this; clients reconnect
  uint32_t page_max = 1000;    // ranking/results page size cap
  // Set by ticketd: the read models' readiness (not ready = a store is
  // behind; writes go on) and their metrics.
  std::function<absl::Status()> extra_ready;
  std::function<void(Metrics*)> extra_metrics;
  // Set by ticketd when Redis/PostgreSQL are configured: entries, rankings,
  // results and SSE read from them while they are caught up.
  ReadModel* read_model = nullptr;
};

class Api {
 public:
  Api(ApiBackend* backend, ApiOptions options);
  ~Api();

  void Register(httplib::Server* server);

  struct Ctx;
  struct Route {
    const char* method;
    const char* path;  // OpenAPI path template
    const char* name;  // metrics label
    void (Api::*fn)(Ctx&);
  };
  // Every route the api serves; api/openapi.json must list exactly these.
  static const std::vector<Route>& Routes();
  // The ticker appends Tick commands while a campaign's queue must move.
  void StartTicker();
  void StopTicker();
  // Ready: the engine has no error and has decided (nearly) every command.
  absl::Status Ready();
  Metrics& metrics() { return metrics_; }

 private:
  void Handle(const char* route, const httplib::Request& req, httplib::Response& res,
              void (Api::*fn)(Ctx&));
  void PostEntry(Ctx& c);
  void CancelEntry(Ctx& c);
  void GetMyEntry(Ctx& c);
  void GetRequest(Ctx& c);
  void GetCampaign(Ctx& c);
  void GetRanking(Ctx& c);
  void GetResults(Ctx& c);
  void StreamEvents(Ctx& c);
  void AdminCreate(Ctx& c);
  void AdminCommand(Ctx& c);
  void Healthz(Ctx& c);
  void Readyz(Ctx& c);
  void MetricsPage(Ctx& c);
  void OpenApi(Ctx& c);
  // Appends `cmd` and, if wait > 0, waits for its decision; fills the answer.
  void SubmitAndAnswer(Ctx& c, pb::Command cmd, int wait_s, int ok_status);
  std::pair<int, nlohmann::json> DescribeDecision(Ctx& c, const std::vector<pb::Event>& events,
                                                  int ok_status);
  bool Authenticate(Ctx& c, bool admin);
  bool ReadBody(Ctx& c, nlohmann::json* out);
  bool CheckIdempotency(Ctx& c, std::string* key, std::string* hash);
  int PreferWait(const Ctx& c) const;
  bool WithCampaign(Ctx& c, const std::function<void(const CampaignState&)>& fn);
  bool QueryUint(Ctx& c, const char* name, uint64_t dflt, uint64_t max, uint64_t* out);
  void TickLoop();
  // The next ledger sequence the api's fold of `partition` expects.
  uint64_t FoldSequence(int partition);
  // An entry from the read model, if it has one at least as new as the fold.
  std::optional<nlohmann::json> StoredEntry(int partition, const std::string& campaign,
                                            const std::string& user);
  void CountRead(const char* route, const absl::Status& st, const char* store);

  ApiBackend* const backend_;
  const ApiOptions options_;
  Metrics metrics_;
  RateLimiter user_limiter_;
  RateLimiter ip_limiter_;
  IdempotencyCache idempotency_;
  std::atomic<int> sse_streams_{0};
  std::atomic<bool> ticking_{false};
  std::thread ticker_;
};

// Listens on host:port with the settings the measurements call for
// (TCP_NODELAY, long keep-alive, a deliberate pool, a real listen backlog).
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 64;
  size_t keep_alive_max_count = 100'000;
  int keep_alive_timeout_s = 5;
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  int listen_backlog = 4096;
  size_t body_bytes_max = 16 * 1024;
};

// The OpenAPI 3 document (api/openapi.json, embedded at build time).
const char* OpenApiDocument();

// Configures `server`; binds; returns the bound port (for port 0) or an error.
absl::StatusOr<int> Bind(httplib::Server* server, const ServerOptions& options);

}  // namespace tl::api
