#include "engine/runtime/ledger_follower.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/core/fold.h"
#include "engine/runtime/engine.h"

namespace tl {

LedgerFollower::LedgerFollower(EventLog* ledger, EngineConfig config, Limits limits,
                               size_t recent_events_max)
    : ledger_(ledger),
      config_(std::move(config)),
      limits_(limits),
      recent_events_max_(recent_events_max),
      workers_(WorkerOptions{.name = "follower", .thread_name = "tl-follower"},
               ledger->partitions()) {
  for (int p = 0; p < ledger_->partitions(); ++p)
    parts_.push_back(std::make_unique<Part>(ledger_, p, limits_.command_batch_max * 4));
}

LedgerFollower::~LedgerFollower() { Stop(); }

void LedgerFollower::Start() {
  workers_.Start([this](int p) { return Round(p); },
                 [this](int p) {
                   ledger_->WaitForData(p, parts_[p]->reader.position().offset,
                                        absl::Milliseconds(100));
                 });
}

void LedgerFollower::Stop() { workers_.Stop(); }

absl::StatusOr<size_t> LedgerFollower::Round(int p) {
  Part& part = *parts_[p];
  if (absl::Status st = part.reader.Next(&part.batch); !st.ok()) return st;
  if (part.batch.read == 0) return 0;
  absl::ReleasableMutexLock lock(&part.mu);
  for (size_t i = 0; i < part.batch.size(); ++i) {
    if ((i + 1) % 256 == 0) {  // let readers in between two events
      part.mu.Unlock();
      part.mu.Lock();
    }
    const pb::Event& e = part.batch.events[i];
    const LogRecord& r = part.batch.records[i];
    if (absl::Status st = Fold(&part.state, config_, e, r.value); !st.ok())
      return absl::DataLossError(absl::StrCat("ledger offset ", r.offset, ": ", st.message()));
    part.decided_end = std::max(part.decided_end, e.command_offset() + 1);
    part.recent.push_back(e);
    if (part.recent.size() > recent_events_max_) part.recent.pop_front();
  }
  // The follower never commits: keep the state's dirty lists from growing.
  for (auto& [id, c] : part.state.campaigns) {
    c->dirty_positions.clear();
    c->dirty_rejected.clear();
  }
  part.next_offset = part.reader.position().offset;
  const uint64_t decided_end = part.decided_end;
  lock.Release();
  workers_.Advance(p, decided_end);
  if (on_progress_) on_progress_(p, decided_end);
  return part.batch.read;
}

void LedgerFollower::WithState(int partition,
                               const std::function<void(const EngineState&, uint64_t)>& fn) {
  Part& part = this->part(partition);
  absl::ReaderMutexLock lock(&part.mu);
  fn(part.state, part.decided_end);
}

absl::Status LedgerFollower::WaitForCommands(int partition, uint64_t command_end,
                                             absl::Duration timeout) {
  this->part(partition);  // (checks the number)
  return workers_.WaitFor(partition, command_end, timeout,
                          "the ledger has not answered the command yet");
}

absl::Status LedgerFollower::EventsForCommand(int partition, uint64_t command_offset,
                                              std::vector<pb::Event>* out) {
  out->clear();
  Part& part = this->part(partition);
  absl::MutexLock lock(&part.mu);
  if (part.recent.empty() || part.recent.front().command_offset() > command_offset)
    return absl::NotFoundError("older than the recent events kept in memory");
  auto it = std::lower_bound(
      part.recent.begin(), part.recent.end(), command_offset,
      [](const pb::Event& e, uint64_t offset) { return e.command_offset() < offset; });
  for (; it != part.recent.end() && it->command_offset() == command_offset; ++it)
    out->push_back(*it);
  return absl::OkStatus();
}

absl::Status LedgerFollower::status() { return workers_.status(); }

uint64_t LedgerFollower::lag(int p) {
  absl::StatusOr<uint64_t> end = ledger_->EndOffset(p);
  Part& part = this->part(p);
  absl::MutexLock lock(&part.mu);
  return end.ok() && *end > part.next_offset ? *end - part.next_offset : 0;
}

uint64_t LedgerFollower::lag() {
  uint64_t lag = 0;
  for (int p = 0; p < static_cast<int>(parts_.size()); ++p) lag += this->lag(p);
  return lag;
}

}  // namespace tl
