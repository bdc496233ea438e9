// A simulated KvStore (engine/runtime/kv_store.h) for the engine's state:
// an ordered map on the simulated machine's disk. Writes without sync sit in
// the page cache; a crash keeps a prefix of them (the WAL's order) and loses
// the rest. The store may be away for a while (every call Unavailable).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/kv_store.h"
#include "ops/sim/world.h"

namespace tl::sim {

class SimKv final : public KvStore {
 public:
  explicit SimKv(World* world) : world_(world) {}

  // The process died: unsynced writes after a random point are gone.
  void Crash();
  void AwayUntil(uint64_t ms) { away_until_ms_ = ms; }
  uint64_t writes_lost() const { return writes_lost_; }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override;
  absl::Status Scan(std::string_view prefix, const Visit& visit) override;
  absl::Status Write(const Batch& batch, bool sync) override;

 private:
  absl::Status Away() const;
  static void Apply(const Batch& batch, std::map<std::string, std::string, std::less<>>* to);

  World* const world_;
  std::map<std::string, std::string, std::less<>> live_, synced_;
  std::vector<Batch> unsynced_;  // written after synced_, in order
  uint64_t away_until_ms_ = 0;
  uint64_t writes_lost_ = 0;
};

// A KvStore handle that forwards to a SimKv it does not own: the disk
// outlives the process (StateStore) that a crash destroys.
class KvRef final : public KvStore {
 public:
  explicit KvRef(KvStore* kv) : kv_(kv) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    return kv_->Get(key);
  }
  absl::Status Scan(std::string_view prefix, const Visit& visit) override {
    return kv_->Scan(prefix, visit);
  }
  absl::Status Write(const Batch& batch, bool sync) override { return kv_->Write(batch, sync); }

 private:
  KvStore* const kv_;
};

}  // namespace tl::sim
