// One ticketd process: its role (roles.h), the one HTTP server every role
// serves through, one metrics registry, and the pool blocking work (store
// reads, Kafka metadata) runs on, off the event loops.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/http/server.h"
#include "api/metrics.h"
#include "api/ops_routes.h"
#include "api/router.h"
#include "ops/app/roles.h"
#include "ops/app/settings.h"

namespace tl::app {

class Daemon {
 public:
  explicit Daemon(Settings settings);
  ~Daemon();

  // Opens the role, listens and serves; returns the port listened on.
  absl::StatusOr<int> Start();
  // "listening on HOST:PORT (role R, WHERE, N event loops, M connections max)".
  std::string StartLine(int port) const;
  // Stops in order: the api (answers what is queued, lets go of streams),
  // the blocking pool, the server, then the role's engine, projectors and
  // stores. Not OK: the engine had failed.
  absl::Status Stop();

 private:
  Settings settings_;
  api::Metrics metrics_;
  boost::asio::thread_pool blocking_{4};
  api::Router router_;
  api::OpsHooks ops_;
  std::unique_ptr<Role> role_;
  std::unique_ptr<http::Server> http_;  // last: stops first
};

// Raises the open-file limit to the hard limit: every connection is a file.
void RaiseOpenFileLimit();

}  // namespace tl::app
