// A simulated EventLog (engine/log/event_log.h) with the faults a real one
// has, drawn from the World:
//   - an append refused (nothing written), or timing out after it was
//     written (the caller cannot tell which; it retries);
//   - an append written twice (a producer retry without idempotence): the
//     same records with the same sequences, which every reader drops;
//   - a writer crashing mid-append: a prefix of its records remains (a torn
//     tail), and the writer learns of it as Aborted("simulated crash");
//   - a read or an end-offset query failing now and then;
//   - a reader seeing a partition late (records delayed per partition);
//   - fencing: a partition taken over by another engine refuses the old
//     engine's appends (Kafka's transactional fencing), or, without fencing,
//     the old engine appends its identical decisions as duplicates.
// The records live in LogData, which survives every simulated crash: an
// acknowledged append is durable, as the contract says.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/log/event_log.h"
#include "ops/sim/world.h"

namespace tl::sim {

struct LogData {
  explicit LogData(int partitions) : parts(partitions), visible(partitions), epoch(partitions) {}
  std::vector<std::vector<LogRecord>> parts;
  std::vector<uint64_t> visible;  // what lagging readers see of each partition
  std::vector<uint64_t> epoch;    // the owner epoch of each partition (fencing)
  bool fencing = true;
  uint64_t appends_refused = 0, appends_timed_out = 0, appends_doubled = 0, torn = 0,
           reads_failed = 0, fenced = 0;
  // Lagging readers catch up with a part of what they have not seen yet.
  void Deliver(World& world);
};

class SimLog final : public EventLog {
 public:
  struct Options {
    bool lagging = false;  // a reader that sees partitions late
    bool faulty = true;    // appends and reads may fail
  };
  SimLog(LogData* data, World* world, Options options)
      : data_(data), world_(world), options_(options), epochs_(data->parts.size()) {}

  // This handle's writes to `partition` come from its owner from now on:
  // the partition's epoch moves on and older handles are fenced.
  void Claim(int partition) { epochs_[partition] = ++data_->epoch[partition]; }
  // The next append through this handle tears: a prefix is written and the
  // call returns Aborted (the writer's process died).
  void ArmTear() { tear_next_ = true; }
  void DisarmTear() { tear_next_ = false; }

  int partitions() const override { return static_cast<int>(data_->parts.size()); }
  absl::StatusOr<uint64_t> Append(int partition, std::vector<LogRecord> records) override;
  absl::Status Read(int partition, uint64_t from, size_t max_records,
                    std::vector<LogRecord>* out) override;
  absl::StatusOr<uint64_t> EndOffset(int partition) override;
  bool WaitForData(int partition, uint64_t offset, absl::Duration) override;

 private:
  uint64_t End(int partition) const;

  LogData* const data_;
  World* const world_;
  const Options options_;
  std::vector<uint64_t> epochs_;
  bool tear_next_ = false;
};

// The status a simulated crash returns through the code that met it.
absl::Status SimulatedCrash(std::string_view where);
bool IsSimulatedCrash(const absl::Status& st);

}  // namespace tl::sim
