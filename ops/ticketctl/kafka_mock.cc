// `ticketctl kafka-mock`: librdkafka's mock cluster on loopback, for
// development and the split tests.
#include <librdkafka/rdkafka.h>

// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "engine/log/kafka/kafka_log.h"
#include "ops/app/signals.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct MockArgs {
  int brokers = 1;
  std::vector<std::string> topics = {"ticketledger.commands:4", "ticketledger.ledger:4"};
};

int Run(const MockArgs& a) {
  std::vector<std::pair<std::string, int>> topics;
  for (const std::string& t : a.topics) {
    size_t colon = t.rfind(':');
    int parts = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(t.substr(colon + 1), &parts) || parts < 1)
      return Fail(absl::InvalidArgumentError("--topic wants name:partitions, e.g. t:4"));
    topics.emplace_back(t.substr(0, colon), parts);
  }
  app::BlockStopSignals();  // before librdkafka starts its threads
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RouteKafkaLogs(conf);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // the host handle has no brokers
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (host == nullptr) return Fail(absl::UnavailableError(err));
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, a.brokers);
  if (mock == nullptr) return Fail(absl::UnavailableError("cannot start the mock cluster"));
  for (const auto& [name, parts] : topics)
    rd_kafka_mock_topic_create(mock, name.c_str(), parts, a.brokers);
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mock));
  std::fflush(stdout);
  std::fprintf(stderr, "ticketctl: mock Kafka cluster of %d broker(s) up; Ctrl-C stops it\n",
               a.brokers);
  app::WaitForStopSignal();
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(host);
  return app::kExitOk;
}

}  // namespace

Verb AddKafkaMock(CLI::App& app, const Global&) {
  auto a = std::make_shared<MockArgs>();
  CLI::App* mock = app.add_subcommand(
      "kafka-mock",
      "Development only: serve librdkafka's mock Kafka cluster on loopback (the real wire "
      "protocol, in memory, not exactly-once), print its bootstrap servers, run until "
      "SIGINT/SIGTERM");
  mock->add_option("--brokers", a->brokers, "Mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  mock->add_option("--topic", a->topics,
                   "Topics to create, as name:partitions (the mock cannot CreateTopics)")
      ->capture_default_str();
  return {mock, [a] { return Run(*a); }};
}

}  // namespace tl::ctl
