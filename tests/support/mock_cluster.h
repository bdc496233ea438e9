// librdkafka's mock Kafka cluster on loopback, hosted by a handle of its own.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <string>

namespace tl::testing {

class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mock_ = rd_kafka_mock_cluster_new(host_, brokers);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mock_);
    rd_kafka_destroy(host_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mock_); }
  rd_kafka_mock_cluster_t* get() { return mock_; }
  // The 2.0.2 mock does not implement CreateTopics; its control API does.
  void CreateTopic(const std::string& name, int partitions) {
    EXPECT_EQ(rd_kafka_mock_topic_create(mock_, name.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* host_;
  rd_kafka_mock_cluster_t* mock_;
};

}  // namespace tl::testing
