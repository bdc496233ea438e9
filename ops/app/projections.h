// The read models one process keeps (roles all and projector): a projector
// per configured store (Redis, PostgreSQL), each following the ledger on its
// own, its checkpoint inside the store.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "api/metrics.h"
#include "engine/log/event_log.h"
#include "ops/app/settings.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/redis/redis_sink.h"

namespace tl::app {

// The stores --redis-url and --postgres-url name (nullopt: not configured).
absl::StatusOr<std::optional<proj::RedisOptions>> RedisStore(const Settings& s);
std::optional<proj::PgOptions> PostgresStore(const Settings& s);

class Projections {
 public:
  // Declares the projection metrics (every role shows them).
  static void DeclareMetrics(api::Metrics* metrics);

  // Opens the configured stores (PostgreSQL migrates here; a store that is
  // down is retried by its projector) and starts a projector per store.
  absl::Status Start(const Settings& s, EventLog* ledger);
  // OK, or the trouble of the first store that is behind or away.
  absl::Status status() const;
  void RefreshMetrics(api::Metrics* metrics) const;
  // Per store, for /v1/admin/overview: [{"store","ok","lag_events","error"}].
  nlohmann::json Overview() const;
  void Stop();

 private:
  std::vector<std::unique_ptr<proj::Sink>> sinks_;
  std::vector<std::unique_ptr<proj::Projector>> projectors_;  // after sinks_: stops first
};

}  // namespace tl::app
