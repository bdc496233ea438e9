#include "engine/runtime/engine.h"

#include "absl/strings/str_cat.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/core/planted.h"
#include "engine/log/ledger_reader.h"
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
  // The reader hands out each sequence once (an identical repeat dropped, a
  // different one or a gap is DATA_LOSS) and reads the next batches on its
  // own thread while this one folds: reading (RocksDB, decompression,
  // checksums, copies) and decoding cost about as much as folding.
  LedgerReader reader(ledger_, partition_, {checkpoint_.ledger_next_offset(), state_.next_sequence},
                      limits_.command_batch_max * 4);
  if (read_ahead_) reader.ReadAhead(kRecoveryReadAhead, *end);
  LedgerBatch batch;
  Answer pending;
  while (reader.position().offset < *end) {
    if (absl::Status st = reader.Next(&batch, *end); !st.ok()) return st;
    if (batch.read == 0) break;
    if (absl::Status st = FoldBatch(batch, pending); !st.ok()) return st;
    if (on_progress) on_progress(reader.position().offset, *end);
  }
  if (planted_bug == PlantedBug::kRecoveryResumesLate && checkpoint_.command_next_offset() > 0)
      [[unlikely]]  // only a restart, not a first start
    checkpoint_.set_command_next_offset(checkpoint_.command_next_offset() + 1);
  // A torn answer at the tail (its writer died mid-write) stays unfolded:
  // its command is decided again and its events written again with the
  // same sequences, which every reader drops or folds exactly once.
  recovered_ = true;
  return absl::OkStatus();
}

absl::Status PartitionEngine::FoldBatch(LedgerBatch& batch, Answer& pending) {
  bool folded = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + kPrefetchAhead < batch.size()) {
      const pb::Event& ahead = batch.events[i + kPrefetchAhead];
      if (ahead.has_queue_entered())
        PrefetchUser(state_, ahead.campaign_id(), ahead.queue_entered().user_id());
    }
    // Swapped in, never copied or destroyed: a warm replay allocates
    // nothing per event here.
    if (pending.size == 0) pending.want = batch.events[i].command_events();
    if (pending.size == pending.events.size()) {
      pending.events.emplace_back();
      pending.records.emplace_back();
    }
    pending.events[pending.size].Swap(&batch.events[i]);
    std::swap(pending.records[pending.size], batch.records[i]);
    if (++pending.size < pending.want) continue;
    for (size_t k = 0; k < pending.size; ++k) {
      const pb::Event& event = pending.events[k];
      if (absl::Status st = Fold(&state_, config_, event, pending.records[k].value); !st.ok())
        return absl::DataLossError(
            absl::StrCat("ledger offset ", pending.records[k].offset, ": ", st.message()));
      if (event.command_offset() + 1 > checkpoint_.command_next_offset())
        checkpoint_.set_command_next_offset(event.command_offset() + 1);
    }
    checkpoint_.set_ledger_next_offset(pending.records[pending.size - 1].offset + 1);
    pending.size = 0;
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
    : commands_(commands),
      workers_(WorkerOptions{.name = "engine", .thread_name = "tl-engine"}, commands->partitions(),
               std::move(owned)) {
  parts_.resize(commands->partitions());
  for (int p : workers_.owned()) {
    parts_[p] = std::make_unique<Part>();
    parts_[p]->engine =
        std::make_unique<PartitionEngine>(p, commands, ledger, store, config, limits);
  }
}

Engine::~Engine() { Stop(); }

absl::Status Engine::Recover() {
  for (int p : workers_.owned()) {
    Part& part = *parts_[p];
    absl::MutexLock lock(&part.mu);
    if (absl::Status st = part.engine->Recover(); !st.ok()) return st;
    part.decided_end = part.engine->checkpoint().command_next_offset();
    workers_.Advance(p, part.decided_end);
  }
  return absl::OkStatus();
}

// A partition whose log is unavailable recovers again after the backoff
// (Step demands it after any error).
void Engine::Start() {
  workers_.Start([this](int p) { return Round(p); },
                 [this](int p) {
                   commands_->WaitForData(p, parts_[p]->engine->checkpoint().command_next_offset(),
                                          absl::Milliseconds(50));
                 });
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
  workers_.Stop();
}

absl::StatusOr<size_t> Engine::Round(int p) {
  Part& part = *parts_[p];
  PartitionEngine& pe = *part.engine;
  if (!pe.recovered()) {
    absl::MutexLock lock(&part.mu);
    if (absl::Status st = pe.Recover(); !st.ok()) return st;
    part.decided_end = pe.checkpoint().command_next_offset();
  }
  absl::StatusOr<size_t> n = pe.Step(&part.mu);
  if (!n.ok()) return n;
  uint64_t decided_end;
  {
    absl::MutexLock lock(&part.mu);
    decided_end = part.decided_end = pe.checkpoint().command_next_offset();
  }
  workers_.Advance(p, decided_end);
  if (*n > 0 && on_decided_) on_decided_(p, decided_end);
  return n;
}

absl::Status Engine::WaitForCommands(int partition, uint64_t command_end, absl::Duration timeout) {
  return workers_.WaitFor(partition, command_end, timeout,
                          "the engine has not decided the command yet");
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

absl::Status Engine::status() { return workers_.status(); }

}  // namespace tl
