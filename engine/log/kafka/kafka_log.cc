#include "engine/log/kafka/kafka_log.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/logger.h"

namespace tl {
namespace {

int Ms(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

absl::Status Kafka(std::string_view what, rd_kafka_resp_err_t err) {
  return absl::UnavailableError(
      absl::StrCat("kafka ", std::string(what), ": ", rd_kafka_err2str(err)));
}

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, ": ", err));
  return absl::OkStatus();
}

// A transaction call's error, consumed.
absl::Status TxnError(std::string_view what, rd_kafka_error_t* e) {
  absl::Status st = absl::UnavailableError(
      absl::StrCat("kafka ", std::string(what), ": ", rd_kafka_error_string(e)));
  rd_kafka_error_destroy(e);
  return st;
}

void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  const std::shared_ptr<spdlog::logger> log = Logger("kafka");  // rare: no need to cache
  spdlog::level::level_enum l = level <= 2   ? spdlog::level::critical
                                : level == 3 ? spdlog::level::err
                                : level == 4 ? spdlog::level::warn
                                : level <= 6 ? spdlog::level::info
                                             : spdlog::level::debug;
  log->log(l, "{} {}: {}", rk != nullptr ? rd_kafka_name(rk) : "-", facility, line);
}

}  // namespace

void RouteKafkaLogs(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogToSpdlog); }

struct KafkaLog::Delivery {
  int64_t offset = -1;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
};

struct KafkaLog::Writer {
  int partition = 0;
  uint64_t commands_end = 0;
  std::vector<LogRecord>* records = nullptr;
  absl::StatusOr<uint64_t> result = absl::UnknownError("not written");
  bool done = false;
  absl::CondVar cv;
};

void KafkaLog::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* d = static_cast<Delivery*>(m->_private);
  d->err = m->err;
  d->offset = m->offset;
}

absl::StatusOr<std::unique_ptr<KafkaLog>> KafkaLog::Open(const KafkaLogOptions& o) {
  if (o.brokers.empty()) return absl::InvalidArgumentError("kafka: no bootstrap servers");
  if (o.partitions < 0) return absl::InvalidArgumentError("kafka: partitions must be >= 0");
  std::unique_ptr<KafkaLog> log(new KafkaLog());
  log->options_ = o;
  char err[512];

  std::map<std::string, std::string> fixed;
  if (!o.transactional_id.empty()) fixed["transactional.id"] = o.transactional_id;
  absl::StatusOr<rd_kafka_conf_t*> pconf =
      NewKafkaConf(o,
                   {{"enable.idempotence", "true"},
                    {"acks", "all"},
                    {"linger.ms", "1"},
                    {"message.timeout.ms", std::to_string(Ms(o.timeout))}},
                   fixed);
  if (!pconf.ok()) return pconf.status();
  rd_kafka_conf_set_dr_msg_cb(*pconf, &KafkaLog::OnDelivery);
  log->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *pconf, err, sizeof err);
  if (log->producer_ == nullptr) {
    rd_kafka_conf_destroy(*pconf);  // still ours when rd_kafka_new fails
    return absl::UnavailableError(absl::StrCat("kafka producer: ", err));
  }
  if (!o.transactional_id.empty()) {
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(log->producer_, Ms(o.timeout))) {
      absl::Status st = absl::UnavailableError(
          absl::StrCat("kafka init_transactions: ", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
      return st;
    }
  }

  auto meta = log->NewConsumer();
  if (!meta.ok()) return meta.status();
  log->meta_ = *meta;

  // Look the topic up; create it only if the brokers do not know it.
  absl::StatusOr<int> found = log->TopicPartitions();
  if (!found.ok() && absl::IsNotFound(found.status()) && o.partitions > 0) {
    if (absl::Status st = log->CreateTopic(); !st.ok()) return st;
    found = log->TopicPartitions();
  }
  if (!found.ok()) return found.status();
  if (o.partitions > 0 && *found != o.partitions)
    return absl::FailedPreconditionError(absl::StrCat("kafka topic ", o.topic, " has ", *found,
                                                      " partitions; configured ", o.partitions));
  log->partitions_ = *found;
  for (int p = 0; p < *found; ++p) log->readers_.push_back(std::make_unique<Reader>());
  return log;
}

absl::StatusOr<rd_kafka_conf_t*> NewKafkaConf(const KafkaLogOptions& options,
                                              const std::map<std::string, std::string>& defaults,
                                              const std::map<std::string, std::string>& fixed) {
  // The operator's properties override the defaults (security, tuning), not
  // what ticketledger's correctness needs (`fixed`).
  const std::map<std::string, std::string> brokers = {{"bootstrap.servers", options.brokers}};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RouteKafkaLogs(conf);
  for (const auto* props : {&brokers, &defaults, &options.properties, &fixed}) {
    for (const auto& [k, v] : *props) {
      if (absl::Status st = Set(conf, k, v); !st.ok()) {
        rd_kafka_conf_destroy(conf);
        return st;
      }
    }
  }
  return conf;
}

absl::StatusOr<rd_kafka_t*> KafkaLog::NewConsumer() {
  // assign()-only: the group id is required by librdkafka but never sent
  // (no subscribe, no commit). auto.offset.reset=error: a record that is gone
  // (retention, truncation) must be an error, never a silent jump to
  // whatever is left.
  absl::StatusOr<rd_kafka_conf_t*> conf =
      NewKafkaConf(options_, {{"group.id", "ticketledger-reader"},
                              {"enable.auto.commit", "false"},
                              {"enable.partition.eof", "true"},
                              {"isolation.level", "read_committed"},
                              {"auto.offset.reset", "error"},
                              {"fetch.wait.max.ms", "50"}});
  if (!conf.ok()) return conf.status();
  char err[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
  if (consumer == nullptr) {
    rd_kafka_conf_destroy(*conf);  // still ours when rd_kafka_new fails
    return absl::UnavailableError(absl::StrCat("kafka consumer: ", err));
  }
  return consumer;
}

absl::StatusOr<int> KafkaLog::TopicPartitions() {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer_, options_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(producer_, 0, rkt, &md, Ms(options_.timeout));
  rd_kafka_topic_destroy(rkt);
  if (err) return Kafka("metadata", err);
  int count = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_resp_err_t terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_metadata_destroy(md);
  if (terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!terr && count == 0))
    return absl::NotFoundError(absl::StrCat("kafka topic ", options_.topic, " does not exist"));
  if (terr) return Kafka(absl::StrCat("topic ", options_.topic), terr);
  return count;
}

absl::Status KafkaLog::CreateTopic() {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(options_.topic.c_str(), options_.partitions,
                                                  options_.replication_factor, err, sizeof err);
  if (nt == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka topic: ", err));
  // The ledger is the truth and the commands are its input: keep them all.
  rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
  rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
  rd_kafka_queue_t* q = rd_kafka_queue_new(producer_);
  rd_kafka_AdminOptions_t* ao =
      rd_kafka_AdminOptions_new(producer_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(ao, Ms(options_.timeout), err, sizeof err);
  rd_kafka_CreateTopics(producer_, &nt, 1, ao, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, Ms(options_.timeout) + 1000);
  absl::Status created = absl::OkStatus();
  if (ev == nullptr) {
    created = absl::UnavailableError("kafka: no answer to CreateTopics");
  } else if (rd_kafka_event_error(ev)) {
    created = absl::UnavailableError(
        absl::StrCat("kafka CreateTopics ", options_.topic, ": ", rd_kafka_event_error_string(ev)));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      created =
          Kafka(absl::StrCat("create topic ", options_.topic), rd_kafka_topic_result_error(res[0]));
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  return created;
}

KafkaLog::~KafkaLog() {
  if (producer_) {
    rd_kafka_flush(producer_, Ms(options_.timeout));
    rd_kafka_destroy(producer_);
  }
  for (auto& r : readers_) {
    if (r->consumer) {
      rd_kafka_consumer_close(r->consumer);
      rd_kafka_destroy(r->consumer);
    }
  }
  if (meta_) {
    rd_kafka_consumer_close(meta_);
    rd_kafka_destroy(meta_);
  }
}

absl::StatusOr<uint64_t> KafkaLog::AppendAnswering(int partition, std::vector<LogRecord> records,
                                                   uint64_t commands_end) {
  if (partition < 0 || partition >= partitions_)
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " out of range"));
  if (records.empty()) return absl::InvalidArgumentError("append of zero records");
  Writer w;
  w.partition = partition;
  w.commands_end = commands_end;
  w.records = &records;
  absl::MutexLock lock(&append_mu_);
  if (!writers_.Enter(&w, &append_mu_)) return w.result;

  // Leader: produce every queued writer's records in order, then wait for
  // all delivery reports (acks=all) before answering any of them.
  std::vector<Writer*> group(writers_.queued().begin(), writers_.queued().end());
  std::vector<std::vector<Delivery>> deliveries(group.size());
  append_mu_.Unlock();
  const bool txn = !options_.transactional_id.empty();
  absl::Status status;
  if (txn) {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_))
      status = TxnError("begin_transaction", e);
  }
  if (status.ok()) status = Produce(group, &deliveries);
  if (absl::Status st = Flush(); status.ok()) status = st;
  if (txn) status = FinishTransaction(group, deliveries, status);
  char fatal[256];
  if (rd_kafka_resp_err_t f = rd_kafka_fatal_error(producer_, fatal, sizeof fatal); f)
    status = absl::UnavailableError(absl::StrCat("kafka producer fatal error: ", fatal));
  append_mu_.Lock();
  const absl::Status failed = Answer(group, deliveries, status);
  writers_.Finish(group.size(), &w);
  append_mu_.Unlock();
  if (!failed.ok() && options_.on_append_error) options_.on_append_error(failed);
  append_mu_.Lock();  // MutexLock releases it
  return w.result;
}

absl::Status KafkaLog::Produce(const std::vector<Writer*>& group,
                               std::vector<std::vector<Delivery>>* deliveries) {
  for (size_t g = 0; g < group.size(); ++g) {
    (*deliveries)[g].resize(group[g]->records->size());
    for (size_t i = 0; i < group[g]->records->size(); ++i) {
      const LogRecord& r = (*group[g]->records)[i];
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
            RD_KAFKA_V_PARTITION(group[g]->partition),
            RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("schema-version", "1", -1),
            RD_KAFKA_V_HEADER("content-type", options_.content_type.c_str(), -1),
            RD_KAFKA_V_OPAQUE(&(*deliveries)[g][i]), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer_, 10);
          continue;
        }
        if (err) return Kafka("produce", err);
        break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status KafkaLog::Flush() {
  rd_kafka_resp_err_t flushed = rd_kafka_flush(producer_, Ms(options_.timeout));
  if (!flushed) return absl::OkStatus();
  // Never acknowledge what the brokers have not confirmed: purge what is
  // left and fail the whole group (the caller answers 503).
  rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_, 0);
  return Kafka("append", flushed);
}

absl::Status KafkaLog::FinishTransaction(const std::vector<Writer*>& group,
                                         const std::vector<std::vector<Delivery>>& deliveries,
                                         absl::Status status) {
  for (const auto& group_deliveries : deliveries) {
    for (const Delivery& d : group_deliveries) {
      if (status.ok() && d.err != RD_KAFKA_RESP_ERR_NO_ERROR) status = Kafka("delivery", d.err);
    }
  }
  if (status.ok() && options_.consumer_group != nullptr) status = SendConsumedOffsets(group);
  if (status.ok()) {
    const absl::Time began = absl::Now();
    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(producer_, Ms(options_.timeout)))
      status = TxnError("commit_transaction", e);
    else if (options_.on_transaction_committed)
      options_.on_transaction_committed(absl::Now() - began);
  }
  if (!status.ok()) {
    // Nothing of this group is acknowledged; read_committed readers never
    // see an aborted transaction's records (on a real cluster).
    if (rd_kafka_error_t* e = rd_kafka_abort_transaction(producer_, Ms(options_.timeout)))
      rd_kafka_error_destroy(e);
  }
  return status;
}

// The consumed command offsets, in the same transaction as the events.
absl::Status KafkaLog::SendConsumedOffsets(const std::vector<Writer*>& group) {
  std::map<int, uint64_t> consumed;
  for (const Writer* x : group) {
    if (x->commands_end > 0)
      consumed[x->partition] = std::max(consumed[x->partition], x->commands_end);
  }
  if (consumed.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_topic_partition_list_new(static_cast<int>(consumed.size()));
  for (const auto& [p, end] : consumed)
    rd_kafka_topic_partition_list_add(offsets, options_.consumed_topic.c_str(), p)->offset =
        static_cast<int64_t>(end);
  rd_kafka_error_t* e = rd_kafka_send_offsets_to_transaction(
      producer_, offsets, options_.consumer_group, Ms(options_.timeout));
  rd_kafka_topic_partition_list_destroy(offsets);
  if (e) return TxnError("send_offsets_to_transaction", e);
  return absl::OkStatus();
}

absl::Status KafkaLog::Answer(const std::vector<Writer*>& group,
                              const std::vector<std::vector<Delivery>>& deliveries,
                              const absl::Status& status) {
  absl::Status failed;  // the first failure of this group, for the observer
  for (size_t g = 0; g < group.size(); ++g) {
    Writer* x = group[g];
    absl::Status st = status;
    for (const Delivery& d : deliveries[g]) {
      if (st.ok() && d.err != RD_KAFKA_RESP_ERR_NO_ERROR) st = Kafka("delivery", d.err);
    }
    if (st.ok() && deliveries[g].size() == x->records->size()) {
      x->result = static_cast<uint64_t>(deliveries[g][0].offset);
    } else {
      x->result = st.ok() ? absl::UnavailableError("kafka: record not delivered") : st;
      if (failed.ok()) failed = x->result.status();
    }
  }
  return failed;
}

absl::StatusOr<uint64_t> KafkaLog::EndOffset(int partition) {
  if (partition < 0 || partition >= partitions_)
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " out of range"));
  // ListOffsets(latest) through offsets_for_times, not
  // rd_kafka_query_watermark_offsets: before librdkafka 2.3.0 that call
  // ignores its timeout and hangs while the partition's broker is down
  // (librdkafka #2588, fixed by #4460). With isolation.level=read_committed
  // (meta_'s) the answer is the last stable offset: the end a reader can see.
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)->offset =
      RD_KAFKA_OFFSET_END;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(meta_, list, Ms(options_.timeout));
  if (!err) err = list->elems[0].err;
  const int64_t end = list->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(list);
  if (err) {
    // The partition's leader may have moved or come back: refresh the
    // handle's metadata so the next call asks the right broker.
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(meta_, options_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(meta_, 0, rkt, &md, Ms(options_.timeout)) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return Kafka("end offset", err);
  }
  if (end < 0) return absl::UnavailableError("kafka end offset: no answer");
  return static_cast<uint64_t>(end);
}

absl::Status KafkaLog::Read(int partition, uint64_t from, size_t max_records,
                            std::vector<LogRecord>* out) {
  out->clear();
  absl::StatusOr<uint64_t> end = EndOffset(partition);
  if (!end.ok()) return end.status();
  if (from >= *end || max_records == 0) return absl::OkStatus();
  Reader& reader = *readers_[partition];
  absl::MutexLock lock(&reader.mu);
  if (reader.consumer == nullptr) {
    absl::StatusOr<rd_kafka_t*> consumer = NewConsumer();
    if (!consumer.ok()) return consumer.status();
    reader.consumer = *consumer;
  }
  if (!reader.positioned || reader.next != from) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)->offset =
        static_cast<int64_t>(from);
    rd_kafka_resp_err_t err = rd_kafka_assign(reader.consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return Kafka("assign", err);
    reader.positioned = true;
    reader.next = from;
  }
  absl::Time deadline = absl::Now() + options_.timeout;
  while (out->size() < max_records && reader.next < *end) {
    int wait = std::max(1, std::min(100, Ms(deadline - absl::Now())));
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.consumer, wait);
    if (m == nullptr) {
      if (absl::Now() >= deadline) {
        if (!out->empty()) break;
        reader.positioned = false;
        return absl::DeadlineExceededError(
            absl::StrCat("kafka: no record at ", options_.topic, "/", partition, "@", from));
      }
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      break;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      rd_kafka_message_destroy(m);
      reader.positioned = false;
      return absl::DataLossError(absl::StrCat(
          "kafka topic ", options_.topic, ", partition ", partition, ", offset ", reader.next,
          ": no longer in the topic (deleted by retention?); a ticketledger topic must keep "
          "every record (retention.ms=-1)"));
    }
    if (m->err) {
      absl::Status st = Kafka("fetch", m->err);
      rd_kafka_message_destroy(m);
      reader.positioned = false;
      return st;
    }
    if (m->partition == partition && static_cast<uint64_t>(m->offset) >= from) {
      LogRecord& r = out->emplace_back();
      r.offset = static_cast<uint64_t>(m->offset);
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      reader.next = r.offset + 1;
    }
    rd_kafka_message_destroy(m);
  }
  return absl::OkStatus();
}

bool KafkaLog::WaitForData(int partition, uint64_t offset, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<uint64_t> end = EndOffset(partition);
    if (end.ok() && *end > offset) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(std::min(absl::Milliseconds(20), deadline - absl::Now()));
  }
}

}  // namespace tl
