// Role engine: a member of the engines' consumer group. The group hands it
// command partitions; it decides them into the ledger through one
// transactional producer per partition, its state in a local RocksDB.
#include <filesystem>

#include "engine/runtime/engine_group.h"
#include "engine/runtime/state_store.h"
#include "ops/app/kafka_logs.h"
#include "ops/app/roles.h"

namespace tl::app {
namespace {

void DeclareEngineMetrics(api::Metrics* metrics) {
  metrics->Declare("ticketledger_kafka_transaction_commit_seconds", "histogram",
                   "Time to commit one ledger transaction (one engine step)");
  metrics->Declare("ticketledger_kafka_rebalances_total", "counter",
                   "Consumer-group rebalances this engine went through");
  metrics->Declare("ticketledger_kafka_consumer_lag", "gauge",
                   "Commands not yet decided, per partition this engine owns");
  metrics->Declare("ticketledger_engine_partitions_owned", "gauge",
                   "Command partitions the group gives this engine");
  api::DeclareEngineEvents(metrics);
}

}  // namespace

TickerOptions CountedTicker(const Settings& s, api::Metrics* metrics) {
  metrics->Declare("ticketledger_ticks_total", "counter",
                   "Tick commands the engine's ticker appended");
  TickerOptions ticker = s.ticker;
  ticker.on_appended = [metrics](uint64_t n) {
    metrics->Add("ticketledger_ticks_total", {}, static_cast<double>(n));
  };
  return ticker;
}

namespace {

class EngineRole final : public Role {
 public:
  absl::Status Open(const Host& host) override {
    const Settings& s = *host.settings;
    if (absl::Status st = OpenKafkaLogs(s, host.metrics, &logs_); !st.ok()) return st;
    DeclareEngineMetrics(host.metrics);
    std::error_code ec;
    std::filesystem::create_directories(s.node.data_dir, ec);
    auto opened = StateStore::Open(s.node.data_dir + "/state");
    if (!opened.ok()) return opened.status();
    store_ = std::move(*opened);
    EngineGroupOptions go;
    go.ledger = logs_.ledger_options;
    go.ledger.transactional_id = s.transactional_id;
    go.ledger.on_transaction_committed = [metrics = host.metrics](absl::Duration d) {
      metrics->Observe("ticketledger_kafka_transaction_commit_seconds", {},
                       absl::ToDoubleSeconds(d));
    };
    go.group_id = s.engine_group;
    go.session_timeout_ms = s.session_timeout_ms;
    go.config = s.node.config;
    go.limits = s.node.limits;
    go.ticker = CountedTicker(s, host.metrics);
    member_ =
        std::make_unique<EngineGroup>(logs_.commands.get(), s.commands_topic, store_.get(), go);
    if (absl::Status st = member_->Start(); !st.ok()) return st;
    host.ops->ready = [this] { return member_->status(); };
    host.ops->refresh_metrics = [this, metrics = host.metrics] { RefreshMetrics(metrics); };
    return absl::OkStatus();
  }

  absl::Status Stop() override {
    absl::Status st = member_->status();
    member_->Stop();  // leaves the group: the others take its partitions at once
    return st;
  }

  std::string Where() const override { return logs_.where; }

 private:
  void RefreshMetrics(api::Metrics* metrics) {
    auto owned = member_->Owned();
    metrics->Set("ticketledger_engine_partitions_owned", {}, static_cast<double>(owned.size()));
    metrics->Set("ticketledger_kafka_rebalances_total", {},
                 static_cast<double>(member_->rebalances()));
    for (const auto& o : owned) {
      absl::StatusOr<uint64_t> end = logs_.commands->EndOffset(o.partition);
      api::Labels part = {{"partition", std::to_string(o.partition)}};
      if (end.ok())
        metrics->Set("ticketledger_kafka_consumer_lag", part,
                     static_cast<double>(*end > o.decided_end ? *end - o.decided_end : 0));
      member_->WithState(o.partition, [&](const EngineState& s, uint64_t) {
        metrics->Set("ticketledger_engine_events_total", part,
                     static_cast<double>(s.next_sequence - 1));
      });
    }
  }

  KafkaLogs logs_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<EngineGroup> member_;
};

}  // namespace

std::unique_ptr<Role> NewEngineRole() { return std::make_unique<EngineRole>(); }

}  // namespace tl::app
