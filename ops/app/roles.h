// The roles a ticketd process runs, one object each: `all` (HTTP api +
// engine on the embedded log in one process) and, for a split deployment
// over Kafka, `api` (HTTP, commands to Kafka, reads folded from the ledger),
// `engine` (a consumer-group member deciding the partitions it is given) and
// `projector` (folds the ledger into the read models). Every role serves
// /healthz, /readyz, /metrics through the daemon's one HTTP server.
//
// The daemon (daemon.h) calls, in this order: Open, Start, Serve while it
// runs; Quiesce, then Stop once the server has stopped.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "api/metrics.h"
#include "api/ops_routes.h"
#include "api/router.h"
#include "ops/app/settings.h"

namespace tl::app {

// What the roles of one process share (owned by the daemon).
struct Host {
  const Settings* settings = nullptr;
  api::Metrics* metrics = nullptr;
  api::Router* router = nullptr;
  api::OpsHooks* ops = nullptr;  // the role sets ready, refresh_metrics, ...
  api::Offload offload;          // blocking work, off the event loops
};

class Role {
 public:
  virtual ~Role() = default;
  // Opens the role's logs and stores, starts its projectors or its engine
  // group membership, registers its routes and ops hooks.
  virtual absl::Status Open(const Host& host) = 0;
  // Starts the engine or the ledger follower: after Open, so every progress
  // hook is in place.
  virtual void Start() {}
  // The server listens but does not serve yet: the demo campaign, the api's
  // own threads.
  virtual absl::Status Serve() { return absl::OkStatus(); }
  // A stop began and the server still runs: the api stores and answers what
  // is queued and lets go of its streams.
  virtual void Quiesce() {}
  // The server has stopped: stops the rest in order. Not OK: the engine had
  // failed.
  virtual absl::Status Stop() = 0;
  // For the start line: the data dir or the Kafka brokers.
  virtual std::string Where() const = 0;
};

// The engine's waiting-room ticker as the settings ask for it, counting the
// Ticks it appends in ticketledger_ticks_total (roles all and engine).
TickerOptions CountedTicker(const Settings& s, api::Metrics* metrics);

std::unique_ptr<Role> NewAllRole();
std::unique_ptr<Role> NewApiRole();
std::unique_ptr<Role> NewEngineRole();
std::unique_ptr<Role> NewProjectorRole();

}  // namespace tl::app
