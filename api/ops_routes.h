// The routes every ticketd role serves, whatever else it does: liveness,
// readiness, metrics, the OpenAPI document, and (roles that fold the
// ledger without an api) the fold they reached.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "api/metrics.h"
#include "api/router.h"

namespace tl::api {

struct OpsHooks {
  std::function<absl::Status()> ready;  // not OK: /readyz answers 503 with the reason
  // Read models behind or away: /readyz stays 200 (writes go on) and says so. May be null.
  std::function<absl::Status()> read_models;
  std::function<void()> refresh_metrics;  // before /metrics renders; may be null
  // The fold this process reached (/v1/projection); null: not served.
  std::function<nlohmann::json()> projection;
};

// Registers /healthz, /readyz, /metrics, /openapi.json and, with
// hooks.projection, /v1/projection. Readiness and metrics may ask Kafka, so
// they run through `offload`. Each /readyz and each scrape of /metrics
// checks hooks.ready into the gauge ticketledger_ready (1 ready, 0 not).
void RegisterOpsRoutes(Router* router, Metrics* metrics, OpsHooks hooks, Offload offload);

// (method, path) of every route RegisterOpsRoutes can register.
const std::vector<std::pair<std::string, std::string>>& OpsRoutes();

}  // namespace tl::api
