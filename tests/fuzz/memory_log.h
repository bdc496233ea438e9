// An EventLog of one partition over records in memory, for the targets that
// feed outside bytes to the readers of the log (no RocksDB, no Kafka).
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/log/event_log.h"

namespace tl::fuzz {

class MemoryLog final : public EventLog {
 public:
  explicit MemoryLog(std::vector<LogRecord> records) : records_(std::move(records)) {
    for (size_t i = 0; i < records_.size(); ++i) records_[i].offset = i;
  }
  int partitions() const override { return 1; }
  absl::StatusOr<uint64_t> Append(int, std::vector<LogRecord>) override {
    return absl::UnimplementedError("read only");
  }
  absl::Status Read(int, uint64_t from, size_t max, std::vector<LogRecord>* out) override {
    out->clear();
    for (uint64_t o = from; o < records_.size() && out->size() < max; ++o)
      out->push_back(records_[o]);
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> EndOffset(int) override { return records_.size(); }
  bool WaitForData(int, uint64_t offset, absl::Duration) override {
    return offset < records_.size();
  }

 private:
  std::vector<LogRecord> records_;
};

}  // namespace tl::fuzz
