#include "projections/projector.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/log/decode.h"
#include "engine/logger.h"

namespace tl::proj {

Projector::Projector(EventLog* ledger, Sink* sink, ProjectorOptions options)
    : ledger_(ledger), sink_(sink), options_(options), sink_name_(sink->name()) {
  for (int p = 0; p < ledger->partitions(); ++p) parts_.push_back(std::make_unique<Part>());
}

Projector::~Projector() { Stop(); }

void Projector::Start() {
  stop_ = false;
  for (int p = 0; p < static_cast<int>(parts_.size()); ++p)
    parts_[p]->thread = std::thread([this, p] { Run(p); });
}

void Projector::Stop() {
  stop_ = true;
  for (auto& part : parts_) {
    if (part->thread.joinable()) part->thread.join();
  }
}

void Projector::SetError(int p, const absl::Status& st) {
  absl::MutexLock lock(&parts_[p]->mu);
  PartitionStatus& s = parts_[p]->st;
  if (!st.ok()) {
    if (s.error.ok() || s.error.message() != st.message())
      Logger("projector")->error("{}: partition {}: {}", sink_name_, p, st.ToString());
    s.failures++;
  } else if (!s.error.ok()) {
    Logger("projector")->info("{}: partition {}: back", sink_name_, p);
  }
  s.error = st;
}

void Projector::Backoff(absl::Duration* d) {
  for (absl::Time until = absl::Now() + *d; !stop_ && absl::Now() < until;)
    absl::SleepFor(absl::Milliseconds(10));
  *d = std::min(*d * 2, options_.backoff_max);
}

absl::Status Projector::LoadCheckpoint(int p, Checkpoint* ckpt) {
  std::vector<Checkpoint> all;
  absl::Status st = sink_->Load(static_cast<int>(parts_.size()), &all);
  if (!st.ok()) return st;
  *ckpt = all[p];
  absl::MutexLock lock(&parts_[p]->mu);
  parts_[p]->st.applied_offset = ckpt->next_offset;
  return absl::OkStatus();
}

absl::StatusOr<size_t> Projector::Batch(int p, Checkpoint* ckpt, uint64_t end) {
  std::vector<LogRecord> records;
  if (absl::Status st = ledger_->Read(p, ckpt->next_offset, options_.batch_records, &records);
      !st.ok())
    return st;
  if (records.empty()) return 0;
  std::vector<pb::Event> events;
  events.reserve(records.size());
  Checkpoint to = *ckpt;
  for (const LogRecord& r : records) {
    pb::Event e;
    if (absl::Status st = DecodeEvent(r, p, &e); !st.ok()) return st;
    if (e.sequence() < to.next_sequence) continue;  // applied already (a duplicate)
    if (e.sequence() > to.next_sequence)
      return absl::DataLossError(absl::StrCat("ledger partition ", p, " offset ", r.offset,
                                              ": sequence ", e.sequence(), " where ",
                                              to.next_sequence, " was expected (a gap)"));
    to.next_sequence++;
    events.push_back(std::move(e));
  }
  to.next_offset = records.back().offset + 1;
  absl::Duration backoff = options_.backoff_min;
  for (;;) {
    absl::Status st = sink_->Apply(p, events, *ckpt, to);
    if (st.ok()) {
      *ckpt = to;
      {
        absl::MutexLock lock(&parts_[p]->mu);
        parts_[p]->st.applied_offset = to.next_offset;
      }
      SetError(p, absl::OkStatus());
      return records.size();
    }
    if (absl::IsFailedPrecondition(st)) {
      // Someone else moved the checkpoint (another projector, a rebuild's
      // swap): go on from where the store says.
      if (absl::Status lst = LoadCheckpoint(p, ckpt); !lst.ok()) return lst;
      return 1;
    }
    uint64_t behind = end > ckpt->next_offset ? end - ckpt->next_offset : records.size();
    SetError(p, absl::UnavailableError(absl::StrCat(sink_name_, " behind by ", behind,
                                                    " ledger records: ", st.message())));
    if (stop_) return absl::CancelledError("stopping");
    Backoff(&backoff);
  }
}

void Projector::Run(int p) {
  Checkpoint ckpt;
  bool loaded = false;
  absl::Duration backoff = options_.backoff_min;
  absl::Time verified = absl::Now();
  while (!stop_) {
    // While idle, check once a second that the store still holds what this
    // partition applied: a store restarted without its data (Redis without
    // persistence) or a namespace swapped by a rebuild is taken from where
    // the store now says.
    if (loaded && absl::Now() - verified > absl::Seconds(1)) {
      verified = absl::Now();
      Checkpoint stored;
      if (LoadCheckpoint(p, &stored).ok() && !(stored == ckpt)) {
        Logger("projector")
            ->warn(
                "{}: partition {}: the store is at ledger offset {}, not {}; going on from there",
                sink_name_, p, stored.next_offset, ckpt.next_offset);
        ckpt = stored;
      }
    }
    if (!loaded) {
      absl::Status st = LoadCheckpoint(p, &ckpt);
      if (!st.ok()) {
        SetError(p,
                 absl::UnavailableError(absl::StrCat(sink_name_, " unreachable: ", st.message())));
        Backoff(&backoff);
        continue;
      }
      loaded = true;
    }
    absl::StatusOr<uint64_t> end = ledger_->EndOffset(p);
    absl::StatusOr<size_t> n = end.ok() ? Batch(p, &ckpt, *end) : end.status();
    if (!n.ok()) {
      if (absl::IsCancelled(n.status())) return;
      SetError(p, n.status());
      if (absl::IsDataLoss(n.status()) || absl::IsInvalidArgument(n.status())) return;
      Backoff(&backoff);
      continue;
    }
    backoff = options_.backoff_min;
    if (*n == 0) {
      ledger_->WaitForData(p, ckpt.next_offset, absl::Milliseconds(100));
    } else {
      verified = absl::Now();  // an applied batch proved the checkpoint
    }
  }
}

absl::Status Projector::RunToEnd(const std::function<void(uint64_t, uint64_t)>& progress) {
  const int n = static_cast<int>(parts_.size());
  std::vector<Checkpoint> ckpts(n);
  std::vector<uint64_t> ends(n);
  uint64_t total = 0, done = 0;
  for (int p = 0; p < n; ++p) {
    if (absl::Status st = LoadCheckpoint(p, &ckpts[p]); !st.ok())
      return absl::UnavailableError(absl::StrCat(sink_name_, " unreachable: ", st.message()));
    absl::StatusOr<uint64_t> end = ledger_->EndOffset(p);
    if (!end.ok()) return end.status();
    ends[p] = *end;
    total += *end;
    done += std::min(ckpts[p].next_offset, *end);
  }
  if (progress) progress(done, total);
  for (int p = 0; p < n; ++p) {
    absl::Duration backoff = options_.backoff_min;
    while (ckpts[p].next_offset < ends[p]) {
      const uint64_t before = ckpts[p].next_offset;
      absl::StatusOr<size_t> r = Batch(p, &ckpts[p], ends[p]);
      if (!r.ok()) {
        if (absl::IsDataLoss(r.status()) || absl::IsInvalidArgument(r.status()) ||
            absl::IsCancelled(r.status()))
          return r.status();
        SetError(p, r.status());
        Backoff(&backoff);
        continue;
      }
      if (*r == 0) break;  // the ledger ends earlier than it said (read_committed)
      done += std::min(ckpts[p].next_offset, ends[p]) - std::min(before, ends[p]);
      if (progress) progress(done, total);
    }
  }
  return absl::OkStatus();
}

std::vector<Projector::PartitionStatus> Projector::Status() {
  std::vector<PartitionStatus> out;
  for (int p = 0; p < static_cast<int>(parts_.size()); ++p) {
    // The end is asked now, not remembered from the last batch: a partition
    // that has not read yet is behind by all of it, never "0 behind".
    absl::StatusOr<uint64_t> end = ledger_->EndOffset(p);
    absl::MutexLock lock(&parts_[p]->mu);
    if (end.ok()) parts_[p]->st.ledger_end = std::max(parts_[p]->st.ledger_end, *end);
    out.push_back(parts_[p]->st);
  }
  return out;
}

absl::Status Projector::status() {
  for (auto& part : parts_) {
    absl::MutexLock lock(&part->mu);
    if (!part->st.error.ok()) return part->st.error;
  }
  return absl::OkStatus();
}

}  // namespace tl::proj
