// The embedded log: the commands log and the ledger as two column families
// of one RocksDB database, so a single-node ticketd needs no other server.
// Record framing, checksums and recovery are described in LOG_FORMAT.md.
//
// Group commit (group_commit.h): appenders queue up; the first in line becomes
// the leader, takes everyone queued behind it (up to
// Limits::append_batch_max records), writes them as one WriteBatch with
// sync=true and wakes them all. Many
// concurrent appenders therefore share one fsync, and offsets are assigned in
// queue order with no gap, even across a crash (the WriteBatch is atomic).
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/limits.h"
#include "engine/log/event_log.h"
#include "engine/log/group_commit.h"

namespace tl {

class EmbeddedLogDb;

class EmbeddedLog final : public EventLog {
 public:
  int partitions() const override { return partitions_; }
  absl::StatusOr<uint64_t> Append(int partition, std::vector<LogRecord> records) override;
  absl::Status Read(int partition, uint64_t from, size_t max_records,
                    std::vector<LogRecord>* out) override;
  absl::StatusOr<uint64_t> EndOffset(int partition) override;
  bool WaitForData(int partition, uint64_t offset, absl::Duration timeout) override;

  // OK while appends can succeed; the sticky error after a failed sync.
  absl::Status Writable();

  // Replaces the stored bytes of one record (tests of corruption handling).
  absl::Status OverwriteRawForTesting(int partition, uint64_t offset, std::string_view raw);
  absl::Status DeleteForTesting(int partition, uint64_t offset);
  // The stored chunk holding `offset`: its first offset and raw bytes.
  absl::Status RawChunkForTesting(int partition, uint64_t offset, uint64_t* first,
                                  std::string* raw);

 private:
  friend class EmbeddedLogDb;
  struct Writer;
  EmbeddedLog(std::string name, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, int partitions,
              const Limits& limits);
  absl::Status Recover();

  const std::string name_;
  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const int partitions_;
  const Limits limits_;

  absl::Mutex mu_;
  GroupCommitQueue<Writer> writers_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> next_offset_ ABSL_GUARDED_BY(mu_);  // assigned, maybe not yet durable
  absl::Status failed_ ABSL_GUARDED_BY(mu_);                // sticky after a failed sync
  std::vector<uint64_t> durable_end_ ABSL_GUARDED_BY(mu_);  // readable end per partition
  absl::CondVar data_cv_;                                   // signalled when durable_end_ grows
};

// Owns the RocksDB instance and its two logs.
class EmbeddedLogDb {
 public:
  // Opens (creating if missing) the database at `path`. `partitions` must be
  // the same every time the same path is opened (it is recorded and checked).
  // `read_only`: a snapshot as of now, readable while a running ticketd
  // holds the database (rebuild, audit); appends fail.
  static absl::StatusOr<std::unique_ptr<EmbeddedLogDb>> Open(const std::string& path,
                                                             int partitions,
                                                             const Limits& limits = {},
                                                             bool read_only = false);
  ~EmbeddedLogDb();

  EmbeddedLog* commands() { return commands_.get(); }
  EmbeddedLog* ledger() { return ledger_.get(); }

 private:
  EmbeddedLogDb() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<EmbeddedLog> commands_;
  std::unique_ptr<EmbeddedLog> ledger_;
};

}  // namespace tl
