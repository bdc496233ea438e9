// The two Kafka topics the split roles (api, engine, projector) open: the
// commands and the ledger, with the same partition count.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "api/metrics.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/ledger_follower.h"
#include "ops/app/settings.h"

namespace tl::app {

struct KafkaLogs {
  std::unique_ptr<KafkaLog> commands, ledger;
  KafkaLogOptions ledger_options;  // what the engine's transactional writers start from
  std::string where;               // "kafka BROKERS", for the start line
  int partitions() const { return commands->partitions(); }
};

// Opens both topics into `logs` (creating missing ones); failed appends
// count in ticketledger_kafka_produce_errors_total of `metrics`.
absl::Status OpenKafkaLogs(const Settings& s, api::Metrics* metrics, KafkaLogs* logs);

// A follower of the ledger for the roles that never decide (api,
// projector): they need no seed secret, they learn each seed from the ledger
// when it is revealed.
std::unique_ptr<LedgerFollower> NewLedgerFollower(const KafkaLogs& logs, const Settings& s);

}  // namespace tl::app
