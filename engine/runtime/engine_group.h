// EngineGroup: the engine role over Kafka as one member of a consumer group
// on the commands topic. The group hands out the partitions; when a member
// dies (its session times out) or a new one joins, the group rebalances and
// the partitions move. For each partition it owns, the member runs a
// single-partition Engine whose ledger producer has the transactional id
// "<prefix>-p<N>": opening it (init_transactions) fences any zombie still
// writing that partition's ledger, and each step's events and consumed
// command offsets commit in one transaction.
//
// The group consumer never fetches (its partitions are paused): the engine
// reads commands from the offset the ledger says it answered, never from the
// group's committed offsets, so a broker that loses them (or the mock, which
// stores none) cannot skip or repeat a command.
//
// On a revoke the member stops the partition's engine before giving the
// partition back; on an assign it opens the ledger producer, and the engine
// catches up from the ledger on its own thread before deciding.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/engine.h"

namespace tl {

struct EngineGroupOptions {
  // The ledger topic; transactional_id is the prefix of the per-partition ids.
  KafkaLogOptions ledger;
  std::string group_id = "ticketledger-engine";
  // How long the group waits for a silent member before moving its
  // partitions (librdkafka session.timeout.ms; heartbeats every tenth).
  int session_timeout_ms = 10000;
  EngineConfig config;
  Limits limits;
  // The waiting-room ticker of each partition this member owns: it starts
  // when the partition is taken and stops before it is given back.
  TickerOptions ticker;
};

class EngineGroup {
 public:
  // `commands` (non-transactional reads) and `store` outlive the group.
  EngineGroup(KafkaLog* commands, std::string commands_topic, StateStore* store,
              EngineGroupOptions options);
  ~EngineGroup();

  // Joins the group; partitions arrive with the first rebalance.
  absl::Status Start();
  // Leaves the group: stops every partition's engine, then closes.
  void Stop();

  struct PartitionView {
    int partition = 0;
    uint64_t decided_end = 0;  // commands decided
    bool failing = false;
  };
  std::vector<PartitionView> Owned();
  // The first error of an owned partition (OK if none).
  absl::Status status();
  uint64_t rebalances() const { return rebalances_.load(); }
  // Runs fn on partition p's engine state if this member owns p.
  bool WithState(int p, const std::function<void(const EngineState&, uint64_t)>& fn);

 private:
  struct Slot {
    rd_kafka_consumer_group_metadata_t* group_metadata = nullptr;
    std::unique_ptr<KafkaLog> ledger;
    std::unique_ptr<Engine> engine;
  };
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  // Opens the ledger producer and starts the engine of each partition in
  // `pending_`; a partition whose producer does not open stays pending and
  // is retried by the poller.
  void OpenPending();
  // Stops the engines of `partitions` (null: all).
  void Revoke(rd_kafka_topic_partition_list_t* partitions);
  void Poll();

  KafkaLog* const commands_;
  const std::string commands_topic_;
  StateStore* const store_;
  const EngineGroupOptions options_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_consumer_group_metadata_t* group_metadata_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rebalances_{0};

  absl::Mutex mu_;
  std::map<int, Slot> owned_ ABSL_GUARDED_BY(mu_);
  std::set<int> pending_ ABSL_GUARDED_BY(mu_);    // assigned, producer not open yet
  absl::Status open_error_ ABSL_GUARDED_BY(mu_);  // why the last open failed
};

}  // namespace tl
