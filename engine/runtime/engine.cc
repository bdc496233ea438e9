#include "engine/runtime/engine.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <pthread.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/log/sequence_check.h"
#include "engine/logger.h"

namespace tl {

namespace {

// Holds `mu` (if any) until Release or scope exit.
class OptionalLock {
 public:
  explicit OptionalLock(absl::Mutex* mu) : mu_(mu) {
    if (mu_ != nullptr) mu_->Lock();
  }
  ~OptionalLock() { Release(); }
  void Release() {
    if (mu_ != nullptr) mu_->Unlock();
    mu_ = nullptr;
  }
  // Lets waiting readers in between two commands (the state is whole there).
  void Yield() {
    if (mu_ == nullptr) return;
    mu_->Unlock();
    mu_->Lock();
  }

 private:
  absl::Mutex* mu_;
};

}  // namespace

PartitionEngine::PartitionEngine(int partition, EventLog* commands, EventLog* ledger,
                                 StateStore* store, EngineConfig config, Limits limits)
    : partition_(partition),
      commands_(commands),
      ledger_(ledger),
      store_(store),
      config_(std::move(config)),
      limits_(limits) {}

absl::Status PartitionEngine::Commit() {
  // The digest is whole only between command answers (fold.h).
  if (state_.answer.left != 0)
    return absl::InternalError(
        absl::StrCat("partition ", partition_, ": commit in the middle of a command answer"));
  checkpoint_.set_next_sequence(state_.next_sequence);
  checkpoint_.set_digest_version(kDigestVersion);
  checkpoint_.set_digest(
      std::string(reinterpret_cast<const char*>(state_.digest.data()), state_.digest.size()));
  return store_->Commit(partition_, &state_, checkpoint_, /*sync=*/false);
}

absl::Status PartitionEngine::Recover() {
  recovered_ = false;
  if (absl::Status st = store_->Load(partition_, config_, &state_, &checkpoint_); !st.ok())
    return st;
  absl::StatusOr<uint64_t> end = ledger_->EndOffset(partition_);
  if (!end.ok()) return end.status();
  if (checkpoint_.ledger_next_offset() > *end)
    return absl::DataLossError(absl::StrCat(
        "state store has folded ledger up to offset ", checkpoint_.ledger_next_offset(),
        " but partition ", partition_, " of the ledger ends at ", *end,
        " (the ledger lost records, or belongs to another store)"));
  // Fold whole command answers only: buffer a command's events until its
  // first event's command_events are all there. The buffer's events and
  // records are swapped in and out, never copied, so a replay allocates
  // nothing per event once it is warm.
  std::vector<pb::Event> pending_events;
  std::vector<LogRecord> pending_records;
  size_t pending = 0;
  uint32_t pending_want = 0;
  SequenceCheck seen;
  // The next batch is read and decoded on a second thread while this one
  // folds (reading -- RocksDB, decompression, checksums, copies -- and
  // parsing cost about as much as folding).
  struct Batch {
    std::vector<LogRecord> records;
    std::vector<pb::Event> events;  // events[i] decoded from records[i], i < decoded
    size_t decoded = 0;
    absl::Status status;  // of the read, or of decoding records[decoded]
  };
  auto read = [this](uint64_t from, Batch* b) {
    b->decoded = 0;
    b->status = ledger_->Read(partition_, from, limits_.command_batch_max * 4, &b->records);
    if (!b->status.ok()) return;
    if (b->events.size() < b->records.size()) b->events.resize(b->records.size());
    for (; b->decoded < b->records.size(); ++b->decoded) {
      b->status = DecodeEvent(b->records[b->decoded], partition_, &b->events[b->decoded]);
      if (!b->status.ok()) return;
    }
  };
  Batch current, next;
  uint64_t read_from = checkpoint_.ledger_next_offset();
  if (read_from < *end) read(read_from, &current);
  while (read_from < *end) {
    if (current.records.empty() && current.status.ok()) break;
    const bool more = current.status.ok() && current.records.back().offset + 1 < *end;
    if (!current.records.empty()) read_from = current.records.back().offset + 1;
    std::thread reader;
    if (more) reader = std::thread(read, read_from, &next);
    absl::Status st = FoldBatch(current.records, current.events, current.decoded, seen,
                                pending_events, pending_records, pending, pending_want);
    if (reader.joinable()) reader.join();
    if (st.ok()) st = current.status;
    if (!st.ok()) return st;
    if (on_progress) on_progress(read_from, *end);
    if (!more) break;
    std::swap(current, next);
  }
  // A torn answer at the tail (its writer died mid-write) stays unfolded:
  // its command is decided again and its events written again with the
  // same sequences, which every reader drops or folds exactly once.
  recovered_ = true;
  return absl::OkStatus();
}

absl::Status PartitionEngine::FoldBatch(std::vector<LogRecord>& records,
                                        std::vector<pb::Event>& events, size_t decoded,
                                        SequenceCheck& seen, std::vector<pb::Event>& pending_events,
                                        std::vector<LogRecord>& pending_records, size_t& pending,
                                        uint32_t& pending_want) {
  bool folded = false;
  for (size_t k = 0; k < decoded; ++k) {
    LogRecord& r = records[k];
    pb::Event& e = events[k];
    if (e.sequence() < state_.next_sequence + pending) {  // already seen: the same?
      if (absl::Status st = seen.Repeat(e.sequence(), r.value, r.offset); !st.ok()) return st;
      continue;
    }
    seen.Saw(e.sequence(), r.value);
    if (pending == 0) pending_want = e.command_events();
    if (pending == pending_events.size()) {
      pending_events.emplace_back();
      pending_records.emplace_back();
    }
    pending_events[pending].Swap(&e);
    std::swap(pending_records[pending], r);
    if (++pending < pending_want) continue;
    for (size_t i = 0; i < pending; ++i) {
      const pb::Event& event = pending_events[i];
      if (absl::Status st = Fold(&state_, config_, event, pending_records[i].value); !st.ok())
        return absl::DataLossError(
            absl::StrCat("ledger offset ", pending_records[i].offset, ": ", st.message()));
      if (event.command_offset() + 1 > checkpoint_.command_next_offset())
        checkpoint_.set_command_next_offset(event.command_offset() + 1);
    }
    checkpoint_.set_ledger_next_offset(pending_records[pending - 1].offset + 1);
    pending = 0;
    folded = true;
  }
  return folded ? Commit() : absl::OkStatus();
}

absl::StatusOr<size_t> PartitionEngine::Step(absl::Mutex* state_mu) {
  if (!recovered_) return absl::FailedPreconditionError("engine must recover first");
  const uint64_t from = checkpoint_.command_next_offset();
  if (absl::Status st = commands_->Read(partition_, from, limits_.command_batch_max, &in_);
      !st.ok())
    return st;
  if (in_.empty()) return 0;
  // From here until the commit, memory runs ahead of the ledger; any error
  // leaves it there, so demand a Recover.
  recovered_ = false;
  std::vector<LogRecord> out;
  pb::Command cmd;
  OptionalLock lock(state_mu);
  auto emit = [&out](const pb::Event& e, std::string&& bytes) {
    LogRecord& rec = out.emplace_back();
    rec.key = e.campaign_id();
    rec.value = std::move(bytes);
    return absl::OkStatus();
  };
  size_t decided = 0;
  for (const LogRecord& r : in_) {
    // A batch takes milliseconds; readers (HTTP event loops) wait at most
    // one slice of it.
    if (++decided % 256 == 0) lock.Yield();
    if (absl::Status st = DecodeCommand(r, partition_, &cmd); !st.ok()) return st;
    if (absl::Status st = DecideAndFold(&state_, config_, limits_, cmd, r.offset, &events_, emit);
        !st.ok())
      return st;
  }
  lock.Release();
  if (!out.empty()) {
    const uint64_t n_events = out.size();
    absl::StatusOr<uint64_t> first =
        ledger_->AppendAnswering(partition_, std::move(out), in_.back().offset + 1);
    if (!first.ok()) return first.status();
    // Kafka may leave a gap (a transaction marker) but never goes back.
    if (*first < checkpoint_.ledger_next_offset())
      return absl::FailedPreconditionError(
          absl::StrCat("ledger partition ", partition_, " went backwards (expected offset >= ",
                       checkpoint_.ledger_next_offset(), ", got ", *first, ")"));
    checkpoint_.set_ledger_next_offset(*first + n_events);
  }
  checkpoint_.set_command_next_offset(in_.back().offset + 1);
  if (absl::Status st = Commit(); !st.ok()) return st;
  recovered_ = true;
  return in_.size();
}

Engine::Engine(EventLog* commands, EventLog* ledger, StateStore* store, EngineConfig config,
               Limits limits, std::vector<int> owned)
    : commands_(commands) {
  parts_.resize(commands->partitions());
  if (owned.empty()) {
    for (int p = 0; p < commands->partitions(); ++p) owned.push_back(p);
  }
  for (int p : owned) {
    if (p < 0 || p >= commands->partitions() || parts_[p]) continue;
    parts_[p] = std::make_unique<Part>();
    parts_[p]->engine =
        std::make_unique<PartitionEngine>(p, commands, ledger, store, config, limits);
  }
}

Engine::~Engine() { Stop(); }

std::vector<int> Engine::owned() const {
  std::vector<int> out;
  for (int p = 0; p < partitions(); ++p) {
    if (parts_[p]) out.push_back(p);
  }
  return out;
}

absl::Status Engine::Recover() {
  for (auto& part : parts_) {
    if (!part) continue;
    absl::MutexLock lock(&part->mu);
    if (absl::Status st = part->engine->Recover(); !st.ok()) return st;
    part->decided_end = part->engine->checkpoint().command_next_offset();
    part->decided_end_seen = part->decided_end;
  }
  return absl::OkStatus();
}

void Engine::Start() {
  stop_ = false;
  for (auto& part : parts_) {
    if (!part) continue;
    part->thread = std::thread([this, p = part.get()] {
      pthread_setname_np(pthread_self(), "tl-engine");
      Run(p);
    });
  }
}

void Engine::Stop() {
  stop_ = true;
  for (auto& part : parts_) {
    if (part && part->thread.joinable()) part->thread.join();
  }
}

void Engine::Run(Part* part) {
  PartitionEngine& pe = *part->engine;
  absl::Duration backoff = absl::Milliseconds(50);
  while (!stop_) {
    absl::StatusOr<size_t> n = 0;
    if (!pe.recovered()) {
      absl::MutexLock lock(&part->mu);
      absl::Status st = pe.Recover();
      if (st.ok()) part->decided_end = pe.checkpoint().command_next_offset();
      n = st.ok() ? absl::StatusOr<size_t>(0) : st;
    }
    if (n.ok() && pe.recovered()) n = pe.Step(&part->mu);
    {
      absl::MutexLock lock(&part->mu);
      if (!n.ok()) {
        if (n.status() != part->error)  // say each new trouble once
          Logger("engine")->error("partition {}: {}", pe.partition(), n.status().ToString());
        part->error = n.status();
        part->failing = true;
        if (!absl::IsUnavailable(n.status()) && !absl::IsDeadlineExceeded(n.status())) return;
      } else {
        if (!part->error.ok()) Logger("engine")->info("partition {}: recovered", pe.partition());
        part->error = absl::OkStatus();
        part->failing = false;
        part->decided_end = pe.checkpoint().command_next_offset();
        part->decided_end_seen = part->decided_end;
      }
    }
    if (!n.ok()) {
      // The log is unavailable: wait and recover (Step demands it after an
      // error), doubling the wait up to 5 s.
      for (absl::Time until = absl::Now() + backoff; !stop_ && absl::Now() < until;)
        absl::SleepFor(absl::Milliseconds(10));
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (*n > 0 && on_decided_) on_decided_(pe.partition(), part->decided_end_seen.load());
    if (*n == 0) {
      commands_->WaitForData(pe.partition(), pe.checkpoint().command_next_offset(),
                             absl::Milliseconds(50));
    }
  }
}

absl::Status Engine::WaitForCommands(int partition, uint64_t command_end, absl::Duration timeout) {
  if (!owns(partition))
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", partition, " is not served by this engine"));
  Part& part = *parts_[partition];
  absl::MutexLock lock(&part.mu);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(part.mu) {
    return part.decided_end >= command_end || !part.error.ok();
  };
  if (!part.mu.AwaitWithTimeout(absl::Condition(&done), timeout))
    return absl::DeadlineExceededError("the engine has not decided the command yet");
  return part.error;
}

void Engine::WithState(int partition, const std::function<void(const EngineState&, uint64_t)>& fn) {
  if (!owns(partition)) {
    fn(EngineState{}, 0);
    return;
  }
  Part& part = *parts_[partition];
  absl::ReaderMutexLock lock(&part.mu);
  fn(part.engine->state(), part.decided_end);
}

absl::Status Engine::status() {
  for (auto& part : parts_) {
    if (!part) continue;
    absl::MutexLock lock(&part->mu);
    if (!part->error.ok()) return part->error;
  }
  return absl::OkStatus();
}

}  // namespace tl
