#include "engine/runtime/engine_group.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/logger.h"

namespace tl {

EngineGroup::EngineGroup(KafkaLog* commands, std::string commands_topic, StateStore* store,
                         EngineGroupOptions options)
    : commands_(commands),
      commands_topic_(std::move(commands_topic)),
      store_(store),
      options_(std::move(options)) {}

EngineGroup::~EngineGroup() { Stop(); }

absl::Status EngineGroup::Start() {
  absl::StatusOr<rd_kafka_conf_t*> conf = NewKafkaConf(
      options_.ledger,
      {{"session.timeout.ms", std::to_string(options_.session_timeout_ms)},
       {"heartbeat.interval.ms", std::to_string(std::max(100, options_.session_timeout_ms / 10))}},
      {{"group.id", options_.group_id},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"isolation.level", "read_committed"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(*conf, &EngineGroup::OnRebalance);
  rd_kafka_conf_set_opaque(*conf, this);
  char err[512];
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
  if (consumer_ == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::UnavailableError(absl::StrCat("kafka group consumer: ", err));
  }
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, commands_topic_.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) return absl::UnavailableError(absl::StrCat("kafka subscribe: ", rd_kafka_err2str(e)));
  stop_ = false;
  poller_ = std::thread([this] { Poll(); });
  return absl::OkStatus();
}

void EngineGroup::Stop() {
  if (consumer_ == nullptr) return;
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  // Leaving the group revokes (through the callback) and stops the engines.
  rd_kafka_consumer_close(consumer_);
  Revoke(nullptr);
  rd_kafka_destroy(consumer_);
  consumer_ = nullptr;
}

void EngineGroup::Poll() {
  absl::Time retry = absl::Now();
  while (!stop_) {
    if (absl::Now() >= retry) {
      OpenPending();  // partitions whose producer did not open yet
      retry = absl::Now() + absl::Seconds(1);
    }
    // Serves rebalance callbacks and keeps the membership alive; records
    // never come (the partitions are paused), errors are logged by librdkafka.
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100)) rd_kafka_message_destroy(m);
  }
}

void EngineGroup::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<EngineGroup*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  self->rebalances_++;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions))
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    rd_kafka_pause_partitions(rk, partitions);  // commands are read by the engine, not here
    {
      absl::MutexLock lock(&self->mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        if (!self->owned_.count(partitions->elems[i].partition))
          self->pending_.insert(partitions->elems[i].partition);
      }
    }
    self->OpenPending();
  } else {
    // Stop deciding before the partition goes to another member.
    self->Revoke(cooperative ? partitions : nullptr);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions))
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

void EngineGroup::OpenPending() {
  std::set<int> todo;
  {
    absl::MutexLock lock(&mu_);
    todo = pending_;
  }
  for (int p : todo) {
    KafkaLogOptions lo = options_.ledger;
    lo.partitions = 0;  // the topic exists: adopt its count
    lo.transactional_id = absl::StrCat(options_.ledger.transactional_id, "-p", p);
    lo.consumed_topic = commands_topic_;
    // Taken after the assignment, so it names this generation of the group.
    rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata(consumer_);
    lo.consumer_group = cgmd;
    absl::StatusOr<std::unique_ptr<KafkaLog>> ledger = KafkaLog::Open(lo);
    absl::MutexLock lock(&mu_);
    if (!ledger.ok() || !pending_.count(p)) {
      rd_kafka_consumer_group_metadata_destroy(cgmd);
      if (!ledger.ok()) {
        open_error_ = absl::UnavailableError(
            absl::StrCat("partition ", p, ": ledger producer: ", ledger.status().message()));
        Logger("engine")->warn("{} (retrying)", open_error_.ToString());
      }
      continue;
    }
    Logger("engine")->info("partition {}: taken (transactional id {})", p, lo.transactional_id);
    pending_.erase(p);
    if (pending_.empty()) open_error_ = absl::OkStatus();
    Slot& o = owned_[p];
    o.group_metadata = cgmd;
    o.ledger = std::move(*ledger);
    o.engine = std::make_unique<Engine>(commands_, o.ledger.get(), store_, options_.config,
                                        options_.limits, std::vector<int>{p});
    o.engine->set_ticker(options_.ticker);
    o.engine->Start();  // recovers (catch-up from the ledger) on its thread
  }
}

void EngineGroup::Revoke(rd_kafka_topic_partition_list_t* partitions) {
  std::map<int, Slot> gone;
  {
    absl::MutexLock lock(&mu_);
    if (partitions == nullptr) {
      gone.swap(owned_);
      pending_.clear();
    } else {
      for (int i = 0; i < partitions->cnt; ++i) {
        const int p = partitions->elems[i].partition;
        pending_.erase(p);
        auto it = owned_.find(p);
        if (it != owned_.end()) gone.insert(owned_.extract(it));
      }
    }
    if (pending_.empty()) open_error_ = absl::OkStatus();
  }
  for (auto& [p, o] : gone) {
    Logger("engine")->info("partition {}: given back", p);
    o.engine->Stop();
    o.engine.reset();
    o.ledger.reset();
    rd_kafka_consumer_group_metadata_destroy(o.group_metadata);
  }
}

std::vector<EngineGroup::PartitionView> EngineGroup::Owned() {
  std::vector<PartitionView> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [p, o] : owned_) {
    out.push_back({p, o.engine->decided_end(p), o.engine->failing(p)});
  }
  return out;
}

absl::Status EngineGroup::status() {
  absl::MutexLock lock(&mu_);
  if (!open_error_.ok()) return open_error_;
  for (auto& [p, o] : owned_) {
    if (o.engine->failing(p)) {
      absl::Status st = o.engine->status();
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

bool EngineGroup::WithState(int p, const std::function<void(const EngineState&, uint64_t)>& fn) {
  absl::MutexLock lock(&mu_);
  auto it = owned_.find(p);
  if (it == owned_.end()) return false;
  it->second.engine->WithState(p, fn);
  return true;
}

}  // namespace tl
