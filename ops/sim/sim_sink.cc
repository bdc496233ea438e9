#include "ops/sim/sim_sink.h"

#include "absl/strings/str_cat.h"
#include "engine/core/planted.h"
#include "ops/sim/sim_log.h"

namespace tl::sim {

absl::Status SimSink::Away() const {
  if (world_->now_ms() < away_until_ms_)
    return absl::UnavailableError("simulated: the read-model store is away");
  return absl::OkStatus();
}

void SimSink::Empty() {
  for (Part& p : parts_) p = Part{};
}

absl::Status SimSink::Load(int partitions, std::vector<proj::Checkpoint>* out) {
  if (absl::Status st = Away(); !st.ok()) return st;
  if (partitions != static_cast<int>(parts_.size()))
    return absl::InvalidArgumentError("the store was made for another number of partitions");
  out->clear();
  for (const Part& p : parts_) out->push_back(p.ckpt);
  return absl::OkStatus();
}

absl::Status SimSink::Apply(int partition, const std::vector<pb::Event>& events,
                            const proj::Checkpoint& from, const proj::Checkpoint& to) {
  if (absl::Status st = Away(); !st.ok()) return st;
  Part& part = parts_[partition];
  if (!(part.ckpt == from))
    return absl::FailedPreconditionError(
        absl::StrCat("the stored checkpoint of partition ", partition, " moved"));
  if (planted_bug == PlantedBug::kCheckpointBeforeData) [[unlikely]] {
    part.ckpt = to;  // the planted bug: checkpoint first, then the data
    if (world_->Fault(100)) return SimulatedCrash("between the checkpoint and the data");
  }
  for (const pb::Event& e : events) part.events.push_back(e.SerializeAsString());
  part.ckpt = to;
  if (world_->Fault(20)) {
    ++replies_lost_;
    return absl::UnavailableError("simulated: the store applied the batch but the reply was lost");
  }
  return absl::OkStatus();
}

}  // namespace tl::sim
