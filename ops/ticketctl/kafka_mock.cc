// `ticketctl kafka-mock`: librdkafka's mock cluster on loopback, for
// development and the split tests. SIGUSR1 takes every broker down (as if
// each crashed: connections dropped, new ones refused; the log, kept in
// memory, survives as on a broker's disk), SIGUSR2 brings them back: the
// history checker's nemesis crashes the brokers without losing the log.
#include <librdkafka/rdkafka.h>

// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>

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
  sigset_t control;
  sigemptyset(&control);
  sigaddset(&control, SIGUSR1);
  sigaddset(&control, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &control, nullptr);
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
  std::fprintf(stderr,
               "ticketctl: mock Kafka cluster of %d broker(s) up; Ctrl-C stops it, SIGUSR1 takes "
               "the brokers down, SIGUSR2 brings them back\n",
               a.brokers);
  sigaddset(&control, SIGINT);
  sigaddset(&control, SIGTERM);
  for (int sig = 0; sigwait(&control, &sig) == 0 && (sig == SIGUSR1 || sig == SIGUSR2);) {
    for (int broker = 1; broker <= a.brokers; ++broker) {
      if (sig == SIGUSR1) {
        rd_kafka_mock_broker_set_down(mock, broker);
      } else {
        rd_kafka_mock_broker_set_up(mock, broker);
      }
    }
    std::fprintf(stderr, "ticketctl: mock brokers %s\n", sig == SIGUSR1 ? "down" : "up");
  }
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
      "SIGINT/SIGTERM. SIGUSR1 takes every broker down (a crash; the log survives), SIGUSR2 "
      "brings them back");
  mock->add_option("--brokers", a->brokers, "Mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  mock->add_option("--topic", a->topics,
                   "Topics to create, as name:partitions (the mock cannot CreateTopics)")
      ->capture_default_str();
  return {mock, [a] { return Run(*a); }};
}

}  // namespace tl::ctl
