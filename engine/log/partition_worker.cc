#include "engine/log/partition_worker.h"

#include <pthread.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/log/backoff.h"
#include "engine/logger.h"

namespace tl {

PartitionWorkers::PartitionWorkers(WorkerOptions options, int partitions, std::vector<int> owned)
    : options_(std::move(options)) {
  parts_.resize(partitions);
  if (owned.empty()) {
    for (int p = 0; p < partitions; ++p) owned.push_back(p);
  }
  for (int p : owned) {
    if (p >= 0 && p < partitions && !parts_[p]) parts_[p] = std::make_unique<Part>();
  }
}

PartitionWorkers::~PartitionWorkers() { Stop(); }

std::vector<int> PartitionWorkers::owned() const {
  std::vector<int> out;
  for (int p = 0; p < partitions(); ++p) {
    if (parts_[p]) out.push_back(p);
  }
  return out;
}

bool PartitionWorkers::IsTransient(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st);
}

void PartitionWorkers::Start(Round round, Idle idle, Retryable retryable) {
  Stop();
  round_ = std::move(round);
  idle_ = std::move(idle);
  retryable_ = std::move(retryable);
  stop_ = false;
  for (int p = 0; p < partitions(); ++p) {
    if (!parts_[p]) continue;
    parts_[p]->thread = std::thread([this, p] {
      if (!options_.thread_name.empty())
        pthread_setname_np(pthread_self(), options_.thread_name.substr(0, 15).c_str());
      Run(p);
    });
  }
}

void PartitionWorkers::Stop() {
  stop_ = true;
  for (auto& part : parts_) {
    if (part && part->thread.joinable()) part->thread.join();
  }
}

void PartitionWorkers::Run(int p) {
  Backoff backoff(options_.backoff_min, options_.backoff_max);
  while (!stop_) {
    absl::StatusOr<size_t> n = round_(p);
    if (!n.ok() && stop_) return;  // (an error from being stopped is no trouble)
    Report(p, n.status());
    if (!n.ok()) {
      if (!retryable_(n.status())) return;
      backoff.Wait(stop_);
      continue;
    }
    backoff.Reset();
    if (*n == 0 && idle_) idle_(p);
  }
}

void PartitionWorkers::Report(int p, const absl::Status& st) {
  if (!owns(p)) return;
  Part& part = *parts_[p];
  absl::MutexLock lock(&part.mu);
  if (!st.ok()) {
    if (st != part.error)  // say each new trouble once
      Logger(options_.name)->error("partition {}: {}", p, st.ToString());
    part.failures++;
  } else if (!part.error.ok()) {
    Logger(options_.name)->info("partition {}: back", p);
  }
  part.error = st;
  part.failing = !st.ok();
}

void PartitionWorkers::Advance(int p, uint64_t end) {
  if (!owns(p)) return;
  Part& part = *parts_[p];
  absl::MutexLock lock(&part.mu);
  if (end > part.progress) part.progress = end;
  part.progress_seen = part.progress;
}

absl::Status PartitionWorkers::WaitFor(int p, uint64_t end, absl::Duration timeout,
                                       std::string_view late) {
  if (!owns(p))
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", p, " is not served by this ", options_.name));
  Part& part = *parts_[p];
  absl::MutexLock lock(&part.mu);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(part.mu) {
    return part.progress >= end || !part.error.ok();
  };
  if (!part.mu.AwaitWithTimeout(absl::Condition(&done), timeout))
    return absl::DeadlineExceededError(std::string(late));
  return part.progress >= end ? absl::OkStatus() : part.error;
}

uint64_t PartitionWorkers::failures(int p) {
  if (!owns(p)) return 0;
  absl::MutexLock lock(&parts_[p]->mu);
  return parts_[p]->failures;
}

absl::Status PartitionWorkers::error(int p) {
  if (!owns(p)) return absl::OkStatus();
  absl::MutexLock lock(&parts_[p]->mu);
  return parts_[p]->error;
}

absl::Status PartitionWorkers::status() {
  for (auto& part : parts_) {
    if (!part) continue;
    absl::MutexLock lock(&part->mu);
    if (!part->error.ok()) return part->error;
  }
  return absl::OkStatus();
}

}  // namespace tl
