#include "projections/projector.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/log/backoff.h"
#include "engine/log/decode.h"
#include "engine/logger.h"

namespace tl::proj {

Projector::Projector(EventLog* ledger, Sink* sink, ProjectorOptions options)
    : ledger_(ledger),
      sink_(sink),
      options_(options),
      sink_name_(sink->name()),
      workers_(WorkerOptions{.name = "projector " + sink_name_,
                             .thread_name = "tl-proj-" + sink_name_,
                             .backoff_min = options.backoff_min,
                             .backoff_max = options.backoff_max},
               ledger->partitions()) {
  for (int p = 0; p < ledger->partitions(); ++p) parts_.push_back(std::make_unique<Part>());
}

Projector::~Projector() { Stop(); }

bool Projector::Retryable(const absl::Status& st) {
  return !absl::IsDataLoss(st) && !absl::IsInvalidArgument(st) && !absl::IsCancelled(st);
}

void Projector::Start() {
  workers_.Start([this](int p) { return Round(p, std::numeric_limits<uint64_t>::max()); },
                 [this](int p) {
                   Part& part = *parts_[p];
                   ledger_->WaitForData(p, part.ckpt.next_offset, absl::Milliseconds(100));
                   Verify(p);
                 },
                 Retryable);
}

void Projector::Stop() { workers_.Stop(); }

absl::Status Projector::LoadCheckpoint(int p) {
  Part& part = *parts_[p];
  std::vector<Checkpoint> all;
  if (absl::Status st = sink_->Load(static_cast<int>(parts_.size()), &all); !st.ok())
    return absl::UnavailableError(absl::StrCat(sink_name_, " unreachable: ", st.message()));
  part.ckpt = all[p];
  part.reader.emplace(ledger_, p, LedgerPosition{part.ckpt.next_offset, part.ckpt.next_sequence},
                      options_.batch_records);
  part.pending = false;
  part.loaded = true;
  part.verified = absl::Now();
  absl::MutexLock lock(&part.mu);
  part.applied_offset = part.ckpt.next_offset;
  return absl::OkStatus();
}

void Projector::Verify(int p) {
  // Once a second: a store restarted without its data (Redis without
  // persistence) or a namespace swapped by a rebuild is taken from where
  // the store now says.
  Part& part = *parts_[p];
  if (!part.loaded || part.pending || absl::Now() - part.verified < absl::Seconds(1)) return;
  part.verified = absl::Now();
  std::vector<Checkpoint> all;
  if (!sink_->Load(static_cast<int>(parts_.size()), &all).ok() || all[p] == part.ckpt) return;
  Logger("projector")
      ->warn("{}: partition {}: the store is at ledger offset {}, not {}; going on from there",
             sink_name_, p, all[p].next_offset, part.ckpt.next_offset);
  part.loaded = false;
}

absl::StatusOr<size_t> Projector::Round(int p, uint64_t end) {
  Part& part = *parts_[p];
  if (!part.loaded) {
    if (absl::Status st = LoadCheckpoint(p); !st.ok()) return st;
  }
  if (!part.pending) {
    if (absl::Status st = part.reader->Next(&part.batch, end); !st.ok()) return st;
    if (part.batch.read == 0) return 0;
    part.pending = true;
  }
  const Checkpoint to{part.reader->position().offset, part.reader->position().next_sequence};
  absl::Status st = sink_->Apply(p, part.batch.events, part.ckpt, to);
  if (st.ok()) {
    part.ckpt = to;
    part.pending = false;
    part.verified = absl::Now();  // an applied batch proved the checkpoint
    absl::MutexLock lock(&part.mu);
    part.applied_offset = to.next_offset;
    return part.batch.read;
  }
  if (absl::IsFailedPrecondition(st)) {
    // Someone else moved the checkpoint (another projector, a rebuild's
    // swap): go on from where the store says.
    part.loaded = false;
    return part.batch.read;
  }
  absl::StatusOr<uint64_t> ledger_end = ledger_->EndOffset(p);
  const uint64_t behind = ledger_end.ok() && *ledger_end > part.ckpt.next_offset
                              ? *ledger_end - part.ckpt.next_offset
                              : part.batch.read;
  return absl::UnavailableError(
      absl::StrCat(sink_name_, " behind by ", behind, " ledger records: ", st.message()));
}

absl::Status Projector::RunToEnd(const std::function<void(uint64_t, uint64_t)>& progress) {
  const int n = static_cast<int>(parts_.size());
  std::vector<uint64_t> ends(n);
  uint64_t total = 0, done = 0;
  for (int p = 0; p < n; ++p) {
    if (absl::Status st = LoadCheckpoint(p); !st.ok()) return st;
    absl::StatusOr<uint64_t> end = ledger_->EndOffset(p);
    if (!end.ok()) return end.status();
    ends[p] = *end;
    total += *end;
    done += std::min(parts_[p]->ckpt.next_offset, *end);
  }
  if (progress) progress(done, total);
  for (int p = 0; p < n; ++p) {
    Part& part = *parts_[p];
    Backoff backoff(options_.backoff_min, options_.backoff_max);
    while (part.ckpt.next_offset < ends[p]) {
      const uint64_t before = part.ckpt.next_offset;
      absl::StatusOr<size_t> r = Round(p, ends[p]);
      if (!r.ok()) {
        if (!Retryable(r.status())) return r.status();
        workers_.Report(p, r.status());
        backoff.Wait(workers_.stopping());
        continue;
      }
      backoff.Reset();
      if (*r == 0) break;  // the ledger ends earlier than it said (read_committed)
      done += std::min(part.ckpt.next_offset, ends[p]) - std::min(before, ends[p]);
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
    PartitionStatus& s = out.emplace_back();
    {
      absl::MutexLock lock(&parts_[p]->mu);
      if (end.ok()) parts_[p]->ledger_end = std::max(parts_[p]->ledger_end, *end);
      s.applied_offset = parts_[p]->applied_offset;
      s.ledger_end = parts_[p]->ledger_end;
    }
    s.failures = workers_.failures(p);
    s.error = workers_.error(p);
  }
  return out;
}

absl::Status Projector::status() { return workers_.status(); }

}  // namespace tl::proj
