// KafkaLog: the EventLog on a Kafka topic (librdkafka). One topic per log
// (`ticketledger.commands`, `ticketledger.ledger` by default), key = campaign
// id, partition chosen by the caller with PartitionFor (murmur2, as the Java
// client), value = protobuf bytes, headers `schema-version` and
// `content-type`.
//
// Appends: an idempotent producer (acks=all, enable.idempotence). Concurrent
// Append calls in one process are grouped like the embedded log's group
// commit: the leader produces every queued record in order and waits for all
// delivery reports, so Append returns only once the brokers have the records
// (the durability acknowledgement) and one call's records are contiguous —
// within this process; another process appending to the same partition may
// interleave (the api appends one record per call, so that is harmless; the
// engine is the only writer of its ledger partitions).
//
// Offsets on Kafka may have gaps (transaction markers, compaction): readers
// must not assume offset + 1 is the next record. Read returns the records
// present in [from, ...) up to max_records.
//
// Transactional mode (the engine's ledger): one Append is one transaction;
// AppendAnswering also sends the consumed command offsets to the transaction
// when a consumer group is given (consume-transform-produce), so on a real
// cluster the group's committed offsets move atomically with the ledger. The
// engine does not rely on them: it resumes from the ledger (engine.h).
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/log/event_log.h"
#include "engine/log/group_commit.h"

namespace tl {

struct KafkaLogOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic;    // e.g. ticketledger.commands
  int partitions =
      4;  // created with this many if missing, must match if present; 0 = adopt the topic's count
  int replication_factor = -1;  // -1 = the brokers' default
  // Passed to librdkafka as is (security.protocol, sasl.*, ssl.*, ...).
  std::map<std::string, std::string> properties;
  // Non-empty: appends are Kafka transactions with this transactional.id, so
  // one Append (one engine step) lands whole or not at all, and a second
  // process opening the same id fences the first (a zombie engine).
  std::string transactional_id;
  // The content-type header of every record.
  std::string content_type = "application/x-protobuf";
  absl::Duration timeout = absl::Seconds(10);  // per append, read, metadata call
  // Transactional mode: the consumer group whose offsets on `consumed_topic`
  // AppendAnswering commits in the transaction (not owned; may be null).
  rd_kafka_consumer_group_metadata_t* consumer_group = nullptr;
  std::string consumed_topic;
  // Observers for metrics (may be empty): a committed transaction and how long
  // its commit took; a failed append (produce, delivery or transaction error).
  std::function<void(absl::Duration)> on_transaction_committed;
  std::function<void(const absl::Status&)> on_append_error;
};

// Sends a librdkafka handle's own log lines (broker connections, retries,
// errors) to the "kafka" component logger instead of stderr, at the level
// librdkafka gave them (syslog 0-2 critical, 3 error, 4 warn, 5-6 info,
// 7 debug).
void RouteKafkaLogs(rd_kafka_conf_t* conf);

// A librdkafka config: bootstrap servers, `defaults`, the operator's
// `properties` over them, then `fixed` (what correctness needs) over all;
// its logs go to the "kafka" logger (RouteKafkaLogs).
absl::StatusOr<rd_kafka_conf_t*> NewKafkaConf(const KafkaLogOptions& options,
                                              const std::map<std::string, std::string>& defaults,
                                              const std::map<std::string, std::string>& fixed = {});

class KafkaLog final : public EventLog {
 public:
  // Connects, creates the topic if missing, checks its partition count.
  static absl::StatusOr<std::unique_ptr<KafkaLog>> Open(const KafkaLogOptions& options);
  ~KafkaLog() override;

  int partitions() const override { return partitions_; }
  absl::StatusOr<uint64_t> Append(int partition, std::vector<LogRecord> records) override {
    return AppendAnswering(partition, std::move(records), 0);
  }
  absl::StatusOr<uint64_t> AppendAnswering(int partition, std::vector<LogRecord> records,
                                           uint64_t commands_end) override;
  absl::Status Read(int partition, uint64_t from, size_t max_records,
                    std::vector<LogRecord>* out) override;
  absl::StatusOr<uint64_t> EndOffset(int partition) override;
  bool WaitForData(int partition, uint64_t offset, absl::Duration timeout) override;

 private:
  struct Writer;
  struct Delivery;
  KafkaLog() = default;
  absl::StatusOr<int> TopicPartitions();  // NotFound if the topic does not exist
  absl::Status CreateTopic();
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*);
  // AppendAnswering's steps, run by the group's leader: produce every
  // writer's records (delivery reports into `deliveries`); flush, purging
  // what the brokers did not confirm; in transactional mode, check the
  // deliveries, send the consumed offsets, commit (or abort); then answer
  // each writer (under append_mu_), returning the group's first failure.
  absl::Status Produce(const std::vector<Writer*>& group,
                       std::vector<std::vector<Delivery>>* deliveries);
  absl::Status Flush();
  absl::Status FinishTransaction(const std::vector<Writer*>& group,
                                 const std::vector<std::vector<Delivery>>& deliveries,
                                 absl::Status status);
  absl::Status SendConsumedOffsets(const std::vector<Writer*>& group);
  absl::Status Answer(const std::vector<Writer*>& group,
                      const std::vector<std::vector<Delivery>>& deliveries,
                      const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);

  KafkaLogOptions options_;
  int partitions_ = 0;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* meta_ = nullptr;  // a consumer handle for watermark queries only

  absl::Mutex append_mu_;
  GroupCommitQueue<Writer> writers_ ABSL_GUARDED_BY(append_mu_);

  // One assign()-only reader per partition (no group traffic), created on
  // first use and kept positioned, so partitions read by different threads
  // never re-assign a shared handle.
  struct Reader {
    absl::Mutex mu;
    rd_kafka_t* consumer = nullptr;  // guarded by mu
    uint64_t next = 0;               // guarded by mu: where it is positioned
    bool positioned = false;         // guarded by mu
  };
  absl::StatusOr<rd_kafka_t*> NewConsumer();
  std::vector<std::unique_ptr<Reader>> readers_;
};

}  // namespace tl
