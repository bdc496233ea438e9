#include "ops/app/projections.h"

#include <string>

namespace tl::app {

absl::StatusOr<std::optional<proj::RedisOptions>> RedisStore(const Settings& s) {
  if (s.redis_url.empty()) return std::nullopt;
  absl::StatusOr<proj::RedisOptions> ro = proj::ParseRedisUrl(s.redis_url);
  if (!ro.ok()) return ro.status();
  ro->prefix = s.redis_prefix;
  return *ro;
}

std::optional<proj::PgOptions> PostgresStore(const Settings& s) {
  if (s.postgres_url.empty()) return std::nullopt;
  return proj::PgOptions{s.postgres_url, s.postgres_schema};
}

void Projections::DeclareMetrics(api::Metrics* metrics) {
  metrics->Declare("ticketledger_projection_lag_records", "gauge",
                   "Ledger records not yet in the store, per store and partition");
  metrics->Declare("ticketledger_projection_store_errors_total", "counter",
                   "Store errors the projector retried, per store");
  metrics->Declare("ticketledger_projection_up", "gauge", "1 if the store is taking writes");
}

absl::Status Projections::Start(const Settings& s, EventLog* ledger) {
  absl::StatusOr<std::optional<proj::RedisOptions>> redis = RedisStore(s);
  if (!redis.ok()) return redis.status();
  if (*redis) sinks_.push_back(std::make_unique<proj::RedisSink>(**redis));
  if (std::optional<proj::PgOptions> po = PostgresStore(s)) {
    auto pg = std::make_unique<proj::PgSink>(*po);
    // Migrations at start; a store that is down now is retried by the
    // projector, so only a refused migration stops the start.
    if (absl::Status st = pg->Migrate(s.postgres_schema); !st.ok() && !absl::IsUnavailable(st))
      return st;
    sinks_.push_back(std::move(pg));
  }
  for (auto& sink : sinks_) {
    projectors_.push_back(std::make_unique<proj::Projector>(ledger, sink.get()));
    projectors_.back()->Start();
  }
  return absl::OkStatus();
}

absl::Status Projections::status() const {
  for (const auto& pr : projectors_) {
    if (absl::Status st = pr->status(); !st.ok()) return st;
  }
  return absl::OkStatus();
}

void Projections::RefreshMetrics(api::Metrics* metrics) const {
  for (const auto& pr : projectors_) {
    auto parts = pr->Status();
    uint64_t failures = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      metrics->Set("ticketledger_projection_lag_records",
                   {{"store", pr->sink_name()}, {"partition", std::to_string(p)}},
                   static_cast<double>(parts[p].ledger_end > parts[p].applied_offset
                                           ? parts[p].ledger_end - parts[p].applied_offset
                                           : 0));
      failures += parts[p].failures;
    }
    metrics->Set("ticketledger_projection_store_errors_total", {{"store", pr->sink_name()}},
                 static_cast<double>(failures));
    metrics->Set("ticketledger_projection_up", {{"store", pr->sink_name()}},
                 pr->status().ok() ? 1 : 0);
  }
}

nlohmann::json Projections::Overview() const {
  nlohmann::json stores = nlohmann::json::array();
  for (const auto& pr : projectors_) {
    uint64_t lag = 0;
    for (const auto& part : pr->Status())
      lag += part.ledger_end > part.applied_offset ? part.ledger_end - part.applied_offset : 0;
    absl::Status st = pr->status();
    stores.push_back({{"store", pr->sink_name()},
                      {"ok", st.ok()},
                      {"lag_events", lag},
                      {"error", std::string(st.message())}});
  }
  return stores;
}

void Projections::Stop() {
  for (auto& pr : projectors_) pr->Stop();
}

}  // namespace tl::app
