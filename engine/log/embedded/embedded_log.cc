#include "engine/log/embedded/embedded_log.h"

#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include "absl/base/internal/endian.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "engine/core/check.h"
#include "engine/core/names.h"
#include "engine/log/record_frame.h"

namespace tl {
namespace {

constexpr char kPartitionsKey[] = "meta/partitions";

std::string RecordKey(int partition, uint64_t offset) {
  std::string k(12, '\0');
  absl::big_endian::Store32(k.data(), static_cast<uint32_t>(partition));
  absl::big_endian::Store64(k.data() + 4, offset);
  return k;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace

struct EmbeddedLog::Writer {
  int partition;
  std::vector<LogRecord>* records;
  absl::StatusOr<uint64_t> result = absl::UnknownError("not written");
  bool done = false;
  absl::CondVar cv;  // signalled when done, or when this writer is first in line
};

EmbeddedLog::EmbeddedLog(std::string name, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                         int partitions, const Limits& limits)
    : name_(std::move(name)),
      db_(db),
      cf_(cf),
      partitions_(partitions),
      limits_(limits),
      next_offset_(partitions, 0),
      durable_end_(partitions, 0) {}

absl::Status EmbeddedLog::Recover() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  absl::MutexLock lock(&mu_);
  std::vector<LogRecord> scratch;
  for (int p = 0; p < partitions_; ++p) {
    it->SeekForPrev(RecordKey(p, UINT64_MAX));
    uint64_t end = 0;
    if (it->Valid() && it->key().size() == 12 &&
        absl::big_endian::Load32(it->key().data()) == static_cast<uint32_t>(p)) {
      uint64_t first = absl::big_endian::Load64(it->key().data() + 4);
      uint32_t count = 0;
      size_t used = 0;
      if (absl::Status st = DecodeChunk(it->value().ToStringView(), name_, p, first, 0, 0, &scratch,
                                        &used, &count);
          !st.ok())
        return st;
      end = first + count;
    }
    if (!it->status().ok()) return FromRocks(it->status(), name_ + " log recovery");
    next_offset_[p] = durable_end_[p] = end;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EmbeddedLog::Append(int partition, std::vector<LogRecord> records) {
  if (partition < 0 || partition >= partitions_)
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " out of range"));
  if (records.empty()) return absl::InvalidArgumentError("append of zero records");
  for (const auto& r : records) {
    if (r.key.size() + r.value.size() > limits_.record_bytes_max)
      return absl::InvalidArgumentError(absl::StrCat("record of ", r.key.size() + r.value.size(),
                                                     " bytes; the limit is ",
                                                     limits_.record_bytes_max));
  }
  Writer w;
  w.partition = partition;
  w.records = &records;
  absl::MutexLock lock(&mu_);
  if (!writers_.Enter(&w, &mu_)) return w.result;

  // Leader: gather a group, write it with one sync outside the lock.
  if (!failed_.ok()) {
    writers_.Finish(1, &w);
    return failed_;
  }
  std::vector<Writer*> group;
  size_t n_records = 0;
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> next = next_offset_;
  for (Writer* x : writers_.queued()) {
    if (!group.empty() && n_records + x->records->size() > limits_.append_batch_max) break;
    group.push_back(x);
    n_records += x->records->size();
    x->result = next[x->partition];
    batch.Put(cf_, RecordKey(x->partition, next[x->partition]), EncodeChunk(*x->records));
    next[x->partition] += x->records->size();
  }
  rocksdb::Status s;
  {
    mu_.Unlock();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Write(wo, &batch);
    mu_.Lock();
  }
  if (s.ok()) {
    // What Append promises: each writer's records got the offsets right
    // after the previous end of its partition, and nothing was skipped.
    uint64_t grew = 0;
    for (int p = 0; p < partitions_; ++p) {
      TL_CHECK_GE(next[p], next_offset_[p]);
      grew += next[p] - next_offset_[p];
    }
    TL_CHECK_EQ(grew, n_records);
    next_offset_ = next;
    durable_end_ = next;
  } else {
    // After a failed sync the state of the WAL is unknown: refuse further
    // appends until the process restarts and recovers.
    failed_ = FromRocks(s, absl::StrCat(name_, " log append"));
  }
  if (!s.ok()) {
    for (Writer* x : group) x->result = failed_;
  }
  writers_.Finish(group.size(), &w);
  data_cv_.SignalAll();
  return w.result;
}

absl::Status EmbeddedLog::Read(int partition, uint64_t from, size_t max_records,
                               std::vector<LogRecord>* out) {
  // `out`'s elements are overwritten in place (their strings keep their
  // memory) and the vector trimmed at the end: no allocation per record for
  // a reader that reuses its vector.
  size_t used = 0;
  absl::Cleanup trim = [&] { out->resize(used); };
  if (partition < 0 || partition >= partitions_)
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " out of range"));
  uint64_t end;
  {
    absl::MutexLock lock(&mu_);
    end = durable_end_[partition];
  }
  if (from >= end) return absl::OkStatus();
  uint64_t stop = from + std::min<uint64_t>(max_records, end - from);
  rocksdb::ReadOptions ro;
  std::string upper = RecordKey(partition, stop);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_));
  auto missing = [&](uint64_t offset) {
    return absl::DataLossError(absl::StrCat(name_, " log, partition ", partition, ", offset ",
                                            offset, ": record missing"));
  };
  // The chunk holding `from` starts at or before it.
  it->SeekForPrev(RecordKey(partition, from));
  if (!it->Valid() || absl::big_endian::Load32(it->key().data()) != uint32_t(partition))
    it->Seek(RecordKey(partition, from));
  uint64_t expect = from;
  for (; it->Valid() && expect < stop; it->Next()) {
    uint64_t first = absl::big_endian::Load64(it->key().data() + 4);
    if (first > expect) return missing(expect);
    uint32_t count = 0;
    if (absl::Status st = DecodeChunk(it->value().ToStringView(), name_, partition, first, expect,
                                      stop, out, &used, &count);
        !st.ok())
      return st;
    if (first + count <= expect) return missing(expect);
    expect = std::min<uint64_t>(first + count, stop);
  }
  if (!it->status().ok()) return FromRocks(it->status(), name_ + " log read");
  if (expect != stop) return missing(expect);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EmbeddedLog::EndOffset(int partition) {
  if (partition < 0 || partition >= partitions_)
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " out of range"));
  absl::MutexLock lock(&mu_);
  return durable_end_[partition];
}

bool EmbeddedLog::WaitForData(int partition, uint64_t offset, absl::Duration timeout) {
  if (partition < 0 || partition >= partitions_) return false;
  absl::MutexLock lock(&mu_);
  absl::Time deadline = absl::Now() + timeout;
  while (durable_end_[partition] <= offset) {
    if (data_cv_.WaitWithDeadline(&mu_, deadline)) return durable_end_[partition] > offset;
  }
  return true;
}

absl::Status EmbeddedLog::Writable() {
  absl::MutexLock lock(&mu_);
  return failed_;
}

absl::Status EmbeddedLog::OverwriteRawForTesting(int partition, uint64_t offset,
                                                 std::string_view raw) {
  return FromRocks(db_->Put(rocksdb::WriteOptions(), cf_, RecordKey(partition, offset),
                            rocksdb::Slice(raw.data(), raw.size())),
                   "overwrite");
}

absl::Status EmbeddedLog::DeleteForTesting(int partition, uint64_t offset) {
  return FromRocks(db_->Delete(rocksdb::WriteOptions(), cf_, RecordKey(partition, offset)),
                   "delete");
}

absl::Status EmbeddedLog::RawChunkForTesting(int partition, uint64_t offset, uint64_t* first,
                                             std::string* raw) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  it->SeekForPrev(RecordKey(partition, offset));
  if (!it->Valid()) return absl::NotFoundError("no chunk");
  *first = absl::big_endian::Load64(it->key().data() + 4);
  *raw = it->value().ToString();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<EmbeddedLogDb>> EmbeddedLogDb::Open(const std::string& path,
                                                                   int partitions,
                                                                   const Limits& limits,
                                                                   bool read_only) {
  if (partitions < 1 || partitions > 1024)
    return absl::InvalidArgumentError(absl::StrCat("partitions ", partitions, " not in 1..1024"));
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // A torn tail of the WAL is dropped back to the last whole write batch.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = 64 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {kCommandsLog, cf_options},
      {kLedgerLog, cf_options}};
  std::unique_ptr<EmbeddedLogDb> out(new EmbeddedLogDb());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only
                          ? rocksdb::DB::OpenForReadOnly(options, path, cfs, &out->handles_, &raw)
                          : rocksdb::DB::Open(options, path, cfs, &out->handles_, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open embedded log at ", path));
  out->db_.reset(raw);
  std::string stored;
  s = raw->Get(rocksdb::ReadOptions(), kPartitionsKey, &stored);
  if (s.IsNotFound() && read_only) {
    return absl::NotFoundError(absl::StrCat("no ticketledger log at ", path));
  } else if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (absl::Status st = FromRocks(raw->Put(wo, kPartitionsKey, std::to_string(partitions)),
                                    "record partitions");
        !st.ok())
      return st;
  } else if (!s.ok()) {
    return FromRocks(s, "read partitions");
  } else if (stored != std::to_string(partitions)) {
    return absl::FailedPreconditionError(absl::StrCat("embedded log at ", path, " has ", stored,
                                                      " partitions; asked for ", partitions));
  }
  out->commands_.reset(new EmbeddedLog(kCommandsLog, raw, out->handles_[1], partitions, limits));
  out->ledger_.reset(new EmbeddedLog(kLedgerLog, raw, out->handles_[2], partitions, limits));
  if (absl::Status st = out->commands_->Recover(); !st.ok()) return st;
  if (absl::Status st = out->ledger_->Recover(); !st.ok()) return st;
  return out;
}

EmbeddedLogDb::~EmbeddedLogDb() {
  commands_.reset();
  ledger_.reset();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
}

}  // namespace tl
