#include "ops/sim/sim_log.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tl::sim {

absl::Status SimulatedCrash(std::string_view where) {
  return absl::AbortedError(absl::StrCat("simulated crash: ", std::string(where)));
}

bool IsSimulatedCrash(const absl::Status& st) {
  return absl::IsAborted(st) && absl::StartsWith(st.message(), "simulated crash");
}

void LogData::Deliver(World& world) {
  for (size_t p = 0; p < parts.size(); ++p) {
    const uint64_t behind = parts[p].size() - visible[p];
    if (behind > 0) visible[p] += world.Chance(500) ? behind : world.Pick(behind + 1);
  }
}

uint64_t SimLog::End(int partition) const {
  return options_.lagging ? data_->visible[partition] : data_->parts[partition].size();
}

absl::StatusOr<uint64_t> SimLog::Append(int partition, std::vector<LogRecord> records) {
  std::vector<LogRecord>& part = data_->parts[partition];
  if (epochs_[partition] < data_->epoch[partition] && data_->fencing) {
    ++data_->fenced;
    return absl::FailedPreconditionError(
        absl::StrCat("fenced: partition ", partition, " was taken over by another engine"));
  }
  const uint64_t first = part.size();
  if (tear_next_) {
    tear_next_ = false;
    ++data_->torn;
    const size_t keep = world_->Pick(records.size() + 1);
    for (size_t i = 0; i < keep; ++i) part.push_back(std::move(records[i]));
    return SimulatedCrash("mid-append");
  }
  if (options_.faulty && world_->Fault(20)) {
    ++data_->appends_refused;
    return absl::UnavailableError("simulated: the log refused the append");
  }
  const bool doubled = options_.faulty && world_->Fault(10);
  const bool timed_out = options_.faulty && world_->Fault(20);
  if (doubled) {
    ++data_->appends_doubled;
    part.insert(part.end(), records.begin(), records.end());
  }
  for (LogRecord& r : records) part.push_back(std::move(r));
  if (timed_out) {
    ++data_->appends_timed_out;
    return absl::DeadlineExceededError("simulated: the append timed out after it was written");
  }
  return first;
}

absl::Status SimLog::Read(int partition, uint64_t from, size_t max_records,
                          std::vector<LogRecord>* out) {
  out->clear();
  if (options_.faulty && world_->Fault(10)) {
    ++data_->reads_failed;
    return absl::UnavailableError("simulated: the log did not answer a read");
  }
  const std::vector<LogRecord>& part = data_->parts[partition];
  const uint64_t end = std::min<uint64_t>(End(partition), from + max_records);
  for (uint64_t o = from; o < end; ++o) {
    out->push_back(part[o]);
    out->back().offset = o;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SimLog::EndOffset(int partition) {
  if (options_.faulty && world_->Fault(5)) {
    ++data_->reads_failed;
    return absl::UnavailableError("simulated: the log did not say where it ends");
  }
  return End(partition);
}

bool SimLog::WaitForData(int partition, uint64_t offset, absl::Duration) {
  return End(partition) > offset;
}

}  // namespace tl::sim
