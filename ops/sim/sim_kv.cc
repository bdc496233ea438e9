#include "ops/sim/sim_kv.h"

namespace tl::sim {

absl::Status SimKv::Away() const {
  if (world_->now_ms() < away_until_ms_)
    return absl::UnavailableError("simulated: the state store is away");
  return absl::OkStatus();
}

void SimKv::Apply(const Batch& batch, std::map<std::string, std::string, std::less<>>* to) {
  for (const Op& op : batch) {
    switch (op.kind) {
      case Op::kPut:
        (*to)[op.key] = op.value;
        break;
      case Op::kDelete:
        to->erase(op.key);
        break;
      case Op::kDeleteRange:
        to->erase(to->lower_bound(op.key), to->lower_bound(op.value));
        break;
    }
  }
}

void SimKv::Crash() {
  const size_t keep = world_->Pick(unsynced_.size() + 1);
  for (size_t i = 0; i < keep; ++i) Apply(unsynced_[i], &synced_);
  writes_lost_ += unsynced_.size() - keep;
  unsynced_.clear();
  live_ = synced_;
}

absl::StatusOr<std::optional<std::string>> SimKv::Get(std::string_view key) {
  if (absl::Status st = Away(); !st.ok()) return st;
  auto it = live_.find(key);
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

absl::Status SimKv::Scan(std::string_view prefix, const Visit& visit) {
  if (absl::Status st = Away(); !st.ok()) return st;
  for (auto it = live_.lower_bound(prefix); it != live_.end() && it->first.starts_with(prefix);
       ++it) {
    if (absl::Status st = visit(it->first, it->second); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status SimKv::Write(const Batch& batch, bool sync) {
  if (absl::Status st = Away(); !st.ok()) return st;
  if (world_->Fault(10)) return absl::UnavailableError("simulated: a state store write failed");
  Apply(batch, &live_);
  if (sync) {
    for (const Batch& b : unsynced_) Apply(b, &synced_);
    unsynced_.clear();
    Apply(batch, &synced_);
  } else {
    unsynced_.push_back(batch);
  }
  return absl::OkStatus();
}

}  // namespace tl::sim
