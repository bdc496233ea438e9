// A simulated read-model store for the projector runtime (a proj::Sink):
// per partition, the events applied (as their ledger bytes) and the
// checkpoint, changed together atomically as Redis MULTI/EXEC and a
// PostgreSQL transaction do. Faults drawn from the World: the store away for
// a while, a batch applied whose reply was lost, the store emptied (Redis
// restarted without persistence).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/sim/world.h"
#include "projections/projector.h"

namespace tl::sim {

class SimSink final : public proj::Sink {
 public:
  SimSink(World* world, int partitions) : world_(world), parts_(partitions) {}

  std::string name() const override { return "sim"; }
  absl::Status Load(int partitions, std::vector<proj::Checkpoint>* out) override;
  absl::Status Apply(int partition, const std::vector<pb::Event>& events,
                     const proj::Checkpoint& from, const proj::Checkpoint& to) override;

  void AwayUntil(uint64_t ms) { away_until_ms_ = ms; }
  void Empty();
  // The events applied to partition p, as bytes, in the order applied.
  const std::vector<std::string>& applied(int p) const { return parts_[p].events; }
  const proj::Checkpoint& checkpoint(int p) const { return parts_[p].ckpt; }
  uint64_t replies_lost() const { return replies_lost_; }

 private:
  struct Part {
    proj::Checkpoint ckpt;
    std::vector<std::string> events;
  };
  absl::Status Away() const;

  World* const world_;
  std::vector<Part> parts_;
  uint64_t away_until_ms_ = 0;
  uint64_t replies_lost_ = 0;
};

}  // namespace tl::sim
