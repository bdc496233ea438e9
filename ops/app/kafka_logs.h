// The two Kafka topics the split roles (api, engine, projector) open: the
// commands and the ledger, with the same partition count.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "api/metrics.h"
#include "engine/kafka_log.h"
#include "ops/app/settings.h"

namespace tl::app {

struct KafkaLogs {
  std::unique_ptr<KafkaLog> commands, ledger;
  KafkaLogOptions ledger_options;  // what the engine's transactional writers start from
  int partitions() const { return commands->partitions(); }
};

// Opens both topics (creating missing ones); failed appends count in
// ticketledger_kafka_produce_errors_total of `metrics`.
absl::StatusOr<KafkaLogs> OpenKafkaLogs(const Settings& s, api::Metrics* metrics);

}  // namespace tl::app
