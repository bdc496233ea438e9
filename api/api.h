// The HTTP api of ticketd (roles all and api): its routes and their
// handlers, transport-free. One concept per file:
//   pipeline.cc — what every request goes through: client address and rate
//                 limits, campaign id, authentication, body, idempotency
//   submit.cc   — the submit path: a command appended without blocking
//                 (appender.h), 202 once durable; Prefer: wait as a
//                 completion (decisions.h, live.h)
//   reads.cc    — the read path: the fold, or a read model when caught up
//   ledger.cc   — the public ledger export after the reveal (schemas/EXPORT.md)
//   entries.cc, admin.cc, confirm.cc, proof.cc, streams.cc — the handlers
//                 by resource
// The waiting-room ticker is not here: it runs with the engine that owns a
// partition (engine/runtime/ticker.h), so no api replica is special.
// JSON shapes live in views.h, the live channel in live.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "api/appender.h"
#include "api/backend.h"
#include "api/decisions.h"
#include "api/idempotency.h"
#include "api/live.h"
#include "api/metrics.h"
#include "api/rate_limiter.h"
#include "api/read_model.h"
#include "api/router.h"

namespace tl::api {

// The browser session (session.cc): an HttpOnly cookie holding the user's JWT.
inline constexpr char kSessionCookie[] = "tl_session";
inline constexpr int64_t kDevSessionSeconds = 12 * 3600;  // POST /v1/dev/session
// The header a cookie-authenticated request other than GET must carry (else 403 csrf).
inline constexpr char kRequestedWith[] = "ticketledger";
// The most campaigns /v1/admin/overview lists (the rest: GET /v1/campaigns?after=).
inline constexpr size_t kOverviewCampaignsMax = 1000;
// The tl_session cookie's value in a request, if any.
std::optional<std::string> SessionCookie(const http::Request& req);
// A Set-Cookie value for the session (an empty value and max age 0 clear it).
std::string SessionCookieHeader(absl::string_view value, int64_t max_age_s, bool secure);

struct ApiOptions {
  std::string jwt_secret;      // HS256 key for user and admin tokens
  int wait_s_max = 10;         // cap for `Prefer: wait=N`
  double user_rate_per_s = 5;  // token bucket per user (0 = off)
  double user_burst = 10;
  double ip_rate_per_s = 0;  // token bucket per client address (0 = off)
  double ip_burst = 100;
  // Behind a proxy the client address is the last entry of X-Forwarded-For;
  // trust it only when the proxy sets it.
  bool trust_forwarded_for = false;
  size_t idempotency_keys_max = 100'000;
  uint32_t page_max = 1000;  // ranking/results page size cap
  size_t append_queue_max = 65'536;
  int append_writers = 2;  // threads appending command batches
  int stream_ticket_ttl_s = 300;
  // ticketd --dev: GET /v1/session says so and POST /v1/dev/session signs anyone in.
  bool dev = false;
  bool cookie_secure = false;  // the session cookie gets `Secure` (served over HTTPS)
  std::string role = "all";    // ticketd's role, for /v1/admin/overview
  LiveOptions live;
  // Signs the admission passes of won entries (api/pass.h); null: no passes
  // (ticketd always sets it for roles all and api).
  std::shared_ptr<const PassSigner> pass;
  // Set by ticketd: the read models' readiness (not ready = a store is
  // behind; writes go on) and their metrics.
  std::function<absl::Status()> extra_ready;
  std::function<void(Metrics*)> extra_metrics;
  // Set by ticketd: the read models' state per store for /v1/admin/overview
  // ([{"store","ok","lag_events","error"}]); null: none.
  std::function<nlohmann::json()> extra_overview;
  // Set by ticketd when Redis/PostgreSQL are configured: entries, rankings
  // and results read from them while they are caught up.
  ReadModel* read_model = nullptr;
  Offload offload;  // where blocking reads run (required)
};

class Api {
 public:
  // Registers the progress hook on `backend`: construct before the engine
  // or follower behind it starts.
  Api(ApiBackend* backend, ApiOptions options, Metrics* metrics);
  ~Api();

  struct Route {
    const char* method;
    const char* path;  // OpenAPI path template
    const char* name;  // metrics label
    void (Api::*fn)(const CallPtr&);
  };
  // Every route the api serves (with OpsRoutes(), what api/openapi.json lists).
  static const std::vector<Route>& Routes();
  void Register(Router* router);

  // Starts the live hub. Stop stores and answers what is queued, answers every waiting request and
  // lets go of the live streams: call it while the HTTP server still runs.
  void Start();
  void Stop();
  // Ready: the engine has no error and has decided (nearly) every command.
  absl::Status Ready();
  void RefreshMetrics();

 private:
  // pipeline.cc
  void Run(void (Api::*fn)(const CallPtr&), const CallPtr& c);
  bool Authenticate(const CallPtr& c, bool admin);
  bool ReadBody(const CallPtr& c, nlohmann::json* out);
  bool CheckIdempotency(const CallPtr& c, std::string* key, std::string* hash);
  int PreferWait(const CallPtr& c) const;
  bool WithCampaign(const CallPtr& c, const std::function<void(const CampaignState&)>& fn);
  bool QueryUint(const CallPtr& c, const char* name, uint64_t dflt, uint64_t max, uint64_t* out);
  // submit.cc
  void Submit(const CallPtr& c, pb::Command cmd, int wait_s, int ok_status);
  // The events that answer the command `cmd` at (p, offset): its own, or —
  // for a repeat of an Idempotency-Key, which causes none — the original
  // command's, found in the engine's key table.
  // `key` is the command's idempotency_key, `actor` its actor.
  absl::Status AnswerOf(int p, uint64_t offset, const std::string& campaign,
                        const std::string& actor, const std::string& key,
                        std::vector<pb::Event>* out);
  // entries.cc
  void PostEntry(const CallPtr& c);
  void PostChoice(const CallPtr& c);
  bool ReadItemAsk(const CallPtr& c, const nlohmann::json& body, bool item_required,
                   std::string* item_id, uint32_t* quantity);
  void CancelEntry(const CallPtr& c);
  void GetRequest(const CallPtr& c);
  // reads.cc
  void GetMyEntry(const CallPtr& c);
  void GetCampaign(const CallPtr& c);
  void GetRanking(const CallPtr& c);
  void GetResults(const CallPtr& c);
  uint64_t FoldSequence(int partition);
  std::optional<nlohmann::json> StoredEntry(int partition, const std::string& campaign,
                                            const std::string& user);
  void CountRead(const char* route, const absl::Status& st, const char* store);
  // ledger.cc
  void GetLedger(const CallPtr& c);
  struct ExportCursors;  // where recent export pages ended, and how many are being built
  static std::shared_ptr<ExportCursors> NewExportCursors();
  // streams.cc
  void StreamTicket(const CallPtr& c);
  void StreamEvents(const CallPtr& c);
  void StreamWebSocket(const CallPtr& c);
  void OpenStream(const CallPtr& c, http::StreamSpec::Kind kind);
  // admin.cc
  void AdminCreate(const CallPtr& c);
  void AdminCommand(const CallPtr& c);
  // confirm.cc: the shop confirms a held win
  void PostConfirmation(const CallPtr& c);
  // proof.cc: a user's Merkle inclusion proof (receipt) of a closed campaign
  void GetProof(const CallPtr& c);
  struct ProofTrees;  // the Merkle trees of closed campaigns, built once each
  static std::shared_ptr<ProofTrees> NewProofTrees();
  // session.cc
  void GetSession(const CallPtr& c);
  void PostSession(const CallPtr& c);
  void DeleteSession(const CallPtr& c);
  void DevSession(const CallPtr& c);
  nlohmann::json SessionJson(const Claims* claims) const;
  void SetSession(const CallPtr& c, const Claims& claims, const std::string& token);
  // The admission pass of `user`'s entry if it is won (a "pass" field);
  // `user` must be the caller: a pass goes only to the winner.
  void AddPass(nlohmann::json* entry, const std::string& user) const;
  void GetJwks(const CallPtr& c);
  // overview.cc
  void ListCampaigns(const CallPtr& c);
  void AdminOverview(const CallPtr& c);

  ApiBackend* const backend_;
  const ApiOptions options_;
  Metrics* const metrics_;
  RateLimiter user_limiter_;
  RateLimiter ip_limiter_;
  IdempotencyCache idempotency_;
  CommandAppender appender_;
  DecisionWaiters decisions_;
  LiveHub live_;
  std::shared_ptr<ExportCursors> export_cursors_;
  std::shared_ptr<ProofTrees> proof_trees_;
};

// The OpenAPI 3 document (api/openapi.json, embedded at build time).
const char* OpenApiDocument();

}  // namespace tl::api
