#include "ops/app/kafka_logs.h"

namespace tl::app {

absl::Status OpenKafkaLogs(const Settings& s, api::Metrics* metrics, KafkaLogs* logs) {
  KafkaLogOptions kafka = s.kafka;
  // From 0, not from the first error: increase() (the alert TicketledgerAppendErrors) sees it.
  metrics->Add("ticketledger_kafka_produce_errors_total", {}, 0);
  kafka.on_append_error = [metrics](const absl::Status&) {
    metrics->Add("ticketledger_kafka_produce_errors_total", {});
  };
  KafkaLogOptions c = kafka;
  c.topic = s.commands_topic;
  c.content_type = "application/x-protobuf; messageType=ticketledger.v1.Command";
  logs->where = "kafka " + s.kafka.brokers;
  logs->ledger_options = kafka;
  logs->ledger_options.topic = s.ledger_topic;
  logs->ledger_options.content_type = "application/x-protobuf; messageType=ticketledger.v1.Event";
  auto commands = KafkaLog::Open(c);
  if (!commands.ok()) return commands.status();
  // Creates the topic if missing; the engine writes through per-partition
  // transactional producers.
  auto ledger = KafkaLog::Open(logs->ledger_options);
  if (!ledger.ok()) return ledger.status();
  logs->commands = std::move(*commands);
  logs->ledger = std::move(*ledger);
  if (logs->commands->partitions() != logs->ledger->partitions())
    return absl::FailedPreconditionError("the commands and ledger topics differ in partitions");
  return absl::OkStatus();
}

std::unique_ptr<LedgerFollower> NewLedgerFollower(const KafkaLogs& logs, const Settings& s) {
  return std::make_unique<LedgerFollower>(logs.ledger.get(), EngineConfig{}, s.node.limits);
}

}  // namespace tl::app
