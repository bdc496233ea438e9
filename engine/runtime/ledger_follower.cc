#include "engine/runtime/ledger_follower.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/core/fold.h"
#include "engine/log/sequence_check.h"
#include "engine/runtime/engine.h"

namespace tl {

LedgerFollower::LedgerFollower(EventLog* ledger, EngineConfig config, Limits limits,
                               size_t recent_events_max)
    : ledger_(ledger),
      config_(std::move(config)),
      limits_(limits),
      recent_events_max_(recent_events_max) {
  for (int p = 0; p < ledger_->partitions(); ++p) parts_.push_back(std::make_unique<Part>());
}

LedgerFollower::~LedgerFollower() { Stop(); }

void LedgerFollower::Start() {
  stop_ = false;
  for (int p = 0; p < static_cast<int>(parts_.size()); ++p) {
    parts_[p]->thread = std::thread([this, p] { Run(p); });
  }
}

void LedgerFollower::Stop() {
  stop_ = true;
  for (auto& part : parts_) {
    if (part->thread.joinable()) part->thread.join();
  }
}

void LedgerFollower::Run(int p) {
  Part& part = *parts_[p];
  std::vector<LogRecord> records;
  pb::Event e;
  uint64_t next = 0;
  SequenceCheck seen;
  while (!stop_) {
    absl::Status st = ledger_->Read(p, next, limits_.command_batch_max * 4, &records);
    if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st)) {
      // The log is away (brokers down): say so, wait, and read again.
      {
        absl::MutexLock lock(&part.mu);
        part.error = st;
      }
      for (int i = 0; i < 50 && !stop_; ++i) absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    if (st.ok() && records.empty()) {
      {
        absl::MutexLock lock(&part.mu);
        part.error = absl::OkStatus();
      }
      ledger_->WaitForData(p, next, absl::Milliseconds(100));
      continue;
    }
    absl::ReleasableMutexLock lock(&part.mu);
    if (st.ok()) part.error = absl::OkStatus();
    size_t folded = 0;
    for (const LogRecord& r : records) {
      if (!st.ok()) break;
      if (++folded % 256 == 0) {  // let readers in between two events
        part.mu.Unlock();
        part.mu.Lock();
      }
      st = DecodeEvent(r, p, &e);
      if (!st.ok()) break;
      if (e.sequence() < part.state.next_sequence) {  // already folded: the same record?
        st = seen.Repeat(e.sequence(), r.value, r.offset);
        continue;
      }
      st = Fold(&part.state, config_, e, r.value);
      if (!st.ok()) {
        st = absl::DataLossError(absl::StrCat("ledger offset ", r.offset, ": ", st.message()));
        break;
      }
      seen.Saw(e.sequence(), r.value);
      part.decided_end = std::max(part.decided_end, e.command_offset() + 1);
      part.recent.push_back(e);
      if (part.recent.size() > recent_events_max_) part.recent.pop_front();
    }
    if (!st.ok()) {
      part.error = st;
      return;
    }
    // The follower never commits: keep the state's dirty lists from growing.
    for (auto& [id, c] : part.state.campaigns) {
      c->dirty_positions.clear();
      c->dirty_rejected.clear();
    }
    next = records.back().offset + 1;
    part.next_offset = next;
    if (on_progress_) {
      const uint64_t decided_end = part.decided_end;
      lock.Release();
      on_progress_(p, decided_end);
    }
  }
}

void LedgerFollower::WithState(int partition,
                               const std::function<void(const EngineState&, uint64_t)>& fn) {
  Part& part = this->part(partition);
  absl::ReaderMutexLock lock(&part.mu);
  fn(part.state, part.decided_end);
}

absl::Status LedgerFollower::WaitForCommands(int partition, uint64_t command_end,
                                             absl::Duration timeout) {
  Part& part = this->part(partition);
  absl::MutexLock lock(&part.mu);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(part.mu) {
    return part.decided_end >= command_end || !part.error.ok();
  };
  if (!part.mu.AwaitWithTimeout(absl::Condition(&done), timeout))
    return absl::DeadlineExceededError("the ledger has not answered the command yet");
  return part.error;
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

absl::Status LedgerFollower::status() {
  for (auto& part : parts_) {
    absl::MutexLock lock(&part->mu);
    if (!part->error.ok()) return part->error;
  }
  return absl::OkStatus();
}

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
