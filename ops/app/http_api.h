// The HTTP api of roles all and api: the api routes over a backend (the
// local node, or Kafka + the ledger follower), reading entries, rankings and
// results from the read models when they are configured and caught up.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "api/api.h"
#include "api/backend.h"
#include "ops/app/projections.h"
#include "ops/app/roles.h"
#include "projections/read_model.h"

namespace tl::app {

class HttpApi {
 public:
  // Registers the api routes, the pages (api/pages.h) and the ops hooks
  // (readiness, metrics). Call before the engine or follower behind
  // `backend` starts: the api hooks their progress. `projections`: this
  // process's projectors (may be null).
  absl::Status Open(const Host& host, api::ApiBackend* backend, const Projections* projections);
  // With --demo, creates campaign "demo" if missing; then starts the api.
  absl::Status Serve();
  // Stores and answers what is queued, lets go of the streams.
  void Quiesce();
  void Reset();

 private:
  const Settings* settings_ = nullptr;
  api::ApiBackend* backend_ = nullptr;
  std::unique_ptr<proj::StoreReadModel> read_model_;
  std::unique_ptr<api::Api> service_;  // after read_model_: goes first
};

}  // namespace tl::app
