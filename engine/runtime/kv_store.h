// KvStore: the ordered key-value store beneath the engine's state store.
// Every role opens RocksDB (OpenRocksKv); the simulator (engine/sim) gives
// an in-memory one whose unsynced writes a simulated crash loses. StateStore
// keeps the encoding; a KvStore only stores bytes.
//
// Contract: Write applies a whole batch atomically, in order, or nothing
// (an error). A write without `sync` may be lost by a crash, and then so is
// every later write (what survives is a prefix of the writes). Reads see
// every write that returned. Errors are Unavailable (the store is away: try
// again) unless the bytes are damaged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tl {

class KvStore {
 public:
  struct Op {
    enum Kind : uint8_t { kPut, kDelete, kDeleteRange };
    Kind kind;
    std::string key;
    std::string value;  // kPut: the value; kDeleteRange: the end key (exclusive)
  };
  using Batch = std::vector<Op>;
  // Called for each key under a prefix, in key order; an error ends the scan
  // with it.
  using Visit = std::function<absl::Status(std::string_view key, std::string_view value)>;

  virtual ~KvStore() = default;
  // The value of `key`, or nullopt when it is absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) = 0;
  virtual absl::Status Scan(std::string_view prefix, const Visit& visit) = 0;
  virtual absl::Status Write(const Batch& batch, bool sync) = 0;
};

// RocksDB at `path` (created if missing).
absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksKv(const std::string& path);

}  // namespace tl
