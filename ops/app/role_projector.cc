// Role projector: follows the Kafka ledger (read_committed), folds it into
// the configured read models, and serves the fold it reached at
// /v1/projection (per partition the events folded and the digest chain, and
// the combined digest, to compare with `ticketctl replay`).
#include <nlohmann/json.hpp>

#include "engine/core/hash.h"
#include "engine/runtime/node.h"
#include "ops/app/kafka_logs.h"
#include "ops/app/projections.h"
#include "ops/app/roles.h"

namespace tl::app {
namespace {

class ProjectorRole final : public Role {
 public:
  absl::Status Open(const Host& host) override {
    if (absl::Status st = OpenKafkaLogs(*host.settings, host.metrics, &logs_); !st.ok()) return st;
    follower_ = NewLedgerFollower(logs_, *host.settings);
    if (absl::Status st = projections_.Start(*host.settings, logs_.ledger.get()); !st.ok())
      return st;
    host.metrics->Declare("ticketledger_projector_lag_records", "gauge",
                          "Ledger records not yet folded, per partition");
    host.metrics->Declare("ticketledger_projector_events_total", "counter",
                          "Ledger events folded, per partition");
    host.ops->ready = [this] {
      absl::Status st = follower_->status();
      return st.ok() ? projections_.status() : st;
    };
    host.ops->refresh_metrics = [this, metrics = host.metrics] { RefreshMetrics(metrics); };
    host.ops->projection = [this] { return Projection(); };
    return absl::OkStatus();
  }

  void Start() override { follower_->Start(); }

  absl::Status Stop() override {
    projections_.Stop();
    follower_->Stop();
    return absl::OkStatus();
  }

  std::string Where() const override { return logs_.where; }

 private:
  void RefreshMetrics(api::Metrics* metrics) {
    for (int p = 0; p < follower_->partitions(); ++p) {
      api::Labels part = {{"partition", std::to_string(p)}};
      metrics->Set("ticketledger_projector_lag_records", part,
                   static_cast<double>(follower_->lag(p)));
      follower_->WithState(p, [&](const EngineState& s, uint64_t) {
        metrics->Set("ticketledger_projector_events_total", part,
                     static_cast<double>(s.next_sequence - 1));
      });
    }
    projections_.RefreshMetrics(metrics);
  }

  nlohmann::json Projection() {
    nlohmann::json parts = nlohmann::json::array();
    std::vector<Hash> digests;
    for (int p = 0; p < follower_->partitions(); ++p) {
      follower_->WithState(p, [&](const EngineState& s, uint64_t decided_end) {
        digests.push_back(s.digest);
        parts.push_back({{"partition", p},
                         {"events", s.next_sequence - 1},
                         {"commands_answered", decided_end},
                         {"digest", ToHex(s.digest)}});
      });
    }
    return nlohmann::json{{"partitions", parts}, {"digest", ToHex(CombinedDigest(digests))}};
  }

  KafkaLogs logs_;
  std::unique_ptr<LedgerFollower> follower_;
  Projections projections_;
};

}  // namespace

std::unique_ptr<Role> NewProjectorRole() { return std::make_unique<ProjectorRole>(); }

}  // namespace tl::app
