#include "engine/runtime/engine.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <pthread.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/log/sequence_check.h"

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
  checkpoint_.set_next_sequence(state_.next_sequence);
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
  // first event's command_events are all there.
  std::vector<std::pair<pb::Event, LogRecord>> pending;
  uint32_t pending_want = 0;
  uint64_t read_from = checkpoint_.ledger_next_offset();
  SequenceCheck seen;
  pb::Event e;
  while (read_from < *end) {
    if (absl::Status st = ledger_->Read(partition_, read_from, limits_.command_batch_max * 4, &in_);
        !st.ok())
      return st;
    if (in_.empty()) break;
    read_from = in_.back().offset + 1;
    bool folded = false;
    for (LogRecord& r : in_) {
      if (absl::Status st = DecodeEvent(r, partition_, &e); !st.ok()) return st;
      if (e.sequence() < state_.next_sequence + pending.size()) {  // already seen: the same?
        if (absl::Status st = seen.Repeat(e.sequence(), r.value, r.offset); !st.ok()) return st;
        continue;
      }
      seen.Saw(e.sequence(), r.value);
      if (pending.empty()) pending_want = e.command_events();
      pending.emplace_back(e, std::move(r));
      if (pending.size() < pending_want) continue;
      for (auto& [event, record] : pending) {
        if (absl::Status st = Fold(&state_, config_, event, record.value); !st.ok())
          return absl::DataLossError(
              absl::StrCat("ledger offset ", record.offset, ": ", st.message()));
        if (event.command_offset() + 1 > checkpoint_.command_next_offset())
          checkpoint_.set_command_next_offset(event.command_offset() + 1);
      }
      checkpoint_.set_ledger_next_offset(pending.back().second.offset + 1);
      pending.clear();
      folded = true;
    }
    if (folded) {
      if (absl::Status st = Commit(); !st.ok()) return st;
    }
    if (on_progress) on_progress(read_from, *end);
  }
  // A torn answer at the tail (its writer died mid-write) stays unfolded:
  // its command is decided again and its events written again with the
  // same sequences, which every reader drops or folds exactly once.
  recovered_ = true;
  return absl::OkStatus();
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
  if (ticker_options_.tick_ms > 0) {
    ticker_ = std::make_unique<Ticker>(
        commands_, owned(),
        [this](int p, const std::function<void(const EngineState&, uint64_t)>& fn) {
          WithState(p, fn);
        },
        ticker_options_);
    ticker_->Start();
  }
}

void Engine::Stop() {
  ticker_.reset();  // no Tick after Stop: the partitions may go to another engine
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
        if (n.status() != part->error)  // say each new trouble once, on stderr
          std::fprintf(stderr, "engine: partition %d: %s\n", pe.partition(),
                       n.status().ToString().c_str());
        part->error = n.status();
        part->failing = true;
        if (!absl::IsUnavailable(n.status()) && !absl::IsDeadlineExceeded(n.status())) return;
      } else {
        if (!part->error.ok())
          std::fprintf(stderr, "engine: partition %d: recovered\n", pe.partition());
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
