#include "ops/app/http_api.h"

#include "absl/time/clock.h"
#include "api/pages.h"
#include "engine/log/event_log.h"

namespace tl::app {
namespace {

absl::Status CreateDemoCampaign(api::ApiBackend* backend) {
  pb::Command create;
  create.set_campaign_id("demo");
  create.set_time_ms(static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));
  auto* c = create.mutable_create_campaign();
  c->set_title("Demo drop");
  c->set_stock(10);
  c->set_win_bps(5000);
  c->set_admission_rate_per_s(20);
  absl::StatusOr<std::string> nonce = NewSeedNonce();
  if (!nonce.ok()) return nonce.status();
  c->set_seed_nonce(*std::move(nonce));
  bool exists = false;
  backend->WithState(PartitionFor("demo", backend->partitions()),
                     [&](const EngineState& s, uint64_t) { exists = s.Find("demo") != nullptr; });
  if (exists || backend->Submit(create).ok()) return absl::OkStatus();
  return absl::UnavailableError("could not create the demo campaign");
}

}  // namespace

absl::Status HttpApi::Open(const Host& host, api::ApiBackend* backend,
                           const Projections* projections) {
  settings_ = host.settings;
  backend_ = backend;
  api::ApiOptions options = host.settings->api;
  absl::StatusOr<std::optional<proj::RedisOptions>> redis = RedisStore(*host.settings);
  if (!redis.ok()) return redis.status();
  std::optional<proj::PgOptions> pg = PostgresStore(*host.settings);
  if (*redis || pg) {
    read_model_ = std::make_unique<proj::StoreReadModel>(*redis, pg);
    options.read_model = read_model_.get();
  }
  options.offload = host.offload;
  options.dev = host.settings->dev;
  options.role = host.settings->role;
  if (projections) options.extra_overview = [projections] { return projections->Overview(); };
  service_ = std::make_unique<api::Api>(backend, options, host.metrics);
  service_->Register(host.router);
  api::RegisterPageRoutes(host.router);
  api::Api* service = service_.get();
  host.ops->ready = [service] { return service->Ready(); };
  host.ops->read_models = [projections] {
    return projections ? projections->status() : absl::OkStatus();
  };
  host.ops->refresh_metrics = [service, projections, metrics = host.metrics] {
    service->RefreshMetrics();
    if (projections) projections->RefreshMetrics(metrics);
  };
  return absl::OkStatus();
}

absl::Status HttpApi::Serve() {
  if (settings_->demo) {
    if (absl::Status st = CreateDemoCampaign(backend_); !st.ok()) return st;
  }
  service_->Start();
  return absl::OkStatus();
}

void HttpApi::Quiesce() {
  if (service_) service_->Stop();
}

void HttpApi::Reset() { service_.reset(); }

}  // namespace tl::app
