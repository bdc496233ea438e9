#include "engine/runtime/kv_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "engine/core/check.h"

namespace tl {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("state store ", what, ": ", s.ToString()));
}

class RocksKv final : public KvStore {
 public:
  explicit RocksKv(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) return FromRocks(s, "read");
    return value;
  }

  absl::Status Scan(std::string_view prefix, const Visit& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const rocksdb::Slice p(prefix.data(), prefix.size());
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      if (absl::Status st = visit(it->key().ToStringView(), it->value().ToStringView()); !st.ok())
        return st;
    }
    return FromRocks(it->status(), "load");
  }

  absl::Status Write(const Batch& ops, bool sync) override {
    rocksdb::WriteBatch batch;
    for (const Op& op : ops) {
      switch (op.kind) {
        case Op::kPut:
          batch.Put(op.key, op.value);
          break;
        case Op::kDelete:
          batch.Delete(op.key);
          break;
        case Op::kDeleteRange:
          batch.DeleteRange(op.key, op.value);
          break;
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocks(db_->Write(wo, &batch), "commit");
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksKv(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open at ", path));
  TL_CHECK(raw != nullptr);
  return std::unique_ptr<KvStore>(new RocksKv(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace tl
