#include "ops/sim/simulator.h"

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/core/fold.h"
#include "engine/core/hash.h"
#include "engine/core/limits.h"
#include "engine/log/command_log.h"
#include "engine/log/ledger_reader.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/state_store.h"
#include "engine/runtime/ticker.h"
#include "ops/audit/audit.h"
#include "ops/sim/sim_kv.h"
#include "ops/sim/sim_log.h"
#include "ops/sim/sim_sink.h"
#include "ops/sim/workload.h"
#include "projections/projector.h"

namespace tl::sim {
namespace {

constexpr const char* kSecret = "simulator-seed-secret-0123456789";
constexpr int kMaxDisks = 4;
constexpr int kMaxCampaigns = 4;

EngineConfig SimConfig() {
  EngineConfig c;
  c.seed_secret = kSecret;
  return c;
}

// An engine process on one machine: its state store (over the machine's
// disk, which outlives the process) and a partition engine per partition it
// holds. A partition taken over by another engine stays here as a zombie
// for a few steps: the old engine has not noticed yet.
struct EngineProc {
  int disk = 0;
  bool alive = true;
  std::set<int> owned;
  std::map<int, int> zombie;  // partition -> steps before it notices
  std::unique_ptr<SimLog> commands, ledger;
  std::unique_ptr<StateStore> store;
  std::map<int, std::unique_ptr<PartitionEngine>> parts;
};

// A command a client sent and was told is durable.
struct Acked {
  CommandPosition at;
  pb::Command command;
};

class Run {
 public:
  explicit Run(const SimOptions& o)
      : options_(o),
        world_(o.seed, o.faults),
        partitions_(o.partitions > 0 ? o.partitions : 1 + static_cast<int>(world_.Pick(3))),
        commands_(partitions_),
        ledger_(partitions_),
        sink_(&world_, partitions_),
        client_log_(&commands_, &world_, {}),
        projector_log_(&ledger_, &world_, {.lagging = true}),
        follower_log_(&ledger_, &world_, {.lagging = true}) {
    ledger_.fencing = world_.Chance(500);
  }

  SimResult Go();

 private:
  // The schedule.
  void Step();
  void ClientAct();
  void EngineAct();
  void ProjectorAct();
  // An api replica's read side: a ledger follower folding the ledger late.
  void FollowerAct();
  // What its reads show must never disappear: a position keeps its user,
  // and a status only moves forward (a final one never changes).
  void CheckReads(const EngineState& state);
  void TickAct();
  void FaultAct();
  // Processes.
  EngineProc* NewProc(int disk, std::set<int> owned);
  void Boot(EngineProc& proc);
  void Crash(EngineProc& proc);
  void Takeover(int partition);
  EngineProc* OwnerOf(int partition);
  std::vector<uint64_t> LedgerEnds() const {
    std::vector<uint64_t> ends;
    for (const auto& part : ledger_.parts) ends.push_back(part.size());
    return ends;
  }
  // One round of partition p on proc: recover if needed, then one step.
  // Returns the commands decided, or an error the caller judges.
  absl::StatusOr<size_t> EngineRound(EngineProc& proc, int p);
  void Send(pb::Command cmd);
  void Fail(std::string what) {
    if (failure_.empty()) failure_ = std::move(what);
  }
  // The end.
  void Heal();
  void Check();
  absl::Status ReadLedger(LogData* data, int p, std::vector<std::string>* events,
                          std::vector<pb::Event>* parsed);
  void CheckAnswers(const std::vector<std::vector<pb::Event>>& faulty,
                    const std::vector<std::vector<pb::Event>>& clean);

  const SimOptions options_;
  World world_;
  const int partitions_;
  LogData commands_, ledger_;
  SimSink sink_;
  SimLog client_log_, projector_log_;
  std::vector<std::unique_ptr<SimKv>> disks_;
  std::vector<std::unique_ptr<EngineProc>> procs_;
  std::unique_ptr<proj::Projector> projector_;
  SimLog follower_log_;
  std::unique_ptr<LedgerFollower> follower_;
  // Reads seen: each position's user (for good), each position's status (by
  // this follower instance; a restarted one starts over).
  std::map<std::string, std::vector<std::string>> read_users_;
  std::map<std::string, std::vector<EntryStatus>> read_status_;
  std::vector<std::string> campaigns_;
  std::vector<pb::Command> pending_;  // sent, not acknowledged: retried
  std::vector<Acked> acked_;
  uint64_t keys_ = 0;
  std::string failure_;
  SimStats stats_;
  std::string fingerprint_;  // every event and projection, as Check read them
};

EngineProc* Run::NewProc(int disk, std::set<int> owned) {
  auto proc = std::make_unique<EngineProc>();
  proc->disk = disk;
  proc->owned = std::move(owned);
  procs_.push_back(std::move(proc));
  Boot(*procs_.back());
  return procs_.back().get();
}

void Run::Boot(EngineProc& proc) {
  proc.alive = true;
  proc.commands = std::make_unique<SimLog>(&commands_, &world_, SimLog::Options{});
  proc.ledger = std::make_unique<SimLog>(&ledger_, &world_, SimLog::Options{});
  proc.store = std::make_unique<StateStore>(std::make_unique<KvRef>(disks_[proc.disk].get()));
  for (int p : proc.owned) {
    proc.ledger->Claim(p);
    auto pe = std::make_unique<PartitionEngine>(p, proc.commands.get(), proc.ledger.get(),
                                                proc.store.get(), SimConfig(), Limits{});
    pe->set_recovery_read_ahead(false);
    proc.parts[p] = std::move(pe);
  }
}

void Run::Crash(EngineProc& proc) {
  ++stats_.engine_crashes;
  proc.parts.clear();
  proc.store.reset();
  proc.commands.reset();
  proc.ledger.reset();
  proc.zombie.clear();  // a dead zombie appends nothing more
  disks_[proc.disk]->Crash();
  proc.alive = false;
}

EngineProc* Run::OwnerOf(int partition) {
  for (auto& proc : procs_)
    if (proc->owned.contains(partition)) return proc.get();
  return nullptr;
}

void Run::Takeover(int partition) {
  if (static_cast<int>(disks_.size()) >= kMaxDisks) return;
  EngineProc* old = OwnerOf(partition);
  ++stats_.takeovers;
  old->owned.erase(partition);
  if (old->alive) {
    old->zombie[partition] = static_cast<int>(world_.Pick(4));
  } else {
    old->parts.erase(partition);
  }
  disks_.push_back(std::make_unique<SimKv>(&world_));
  NewProc(static_cast<int>(disks_.size()) - 1, {partition});
}

absl::StatusOr<size_t> Run::EngineRound(EngineProc& proc, int p) {
  PartitionEngine& pe = *proc.parts.at(p);
  if (!pe.recovered()) {
    if (absl::Status st = pe.Recover(); !st.ok()) return st;
  }
  return pe.Step();
}

void Run::EngineAct() {
  std::vector<std::pair<EngineProc*, int>> candidates;
  for (auto& proc : procs_)
    if (proc->alive)
      for (auto& [p, pe] : proc->parts) candidates.emplace_back(proc.get(), p);
  if (candidates.empty()) return;
  auto [proc, p] = candidates[world_.Pick(candidates.size())];
  const bool zombie = proc->zombie.contains(p);
  const uint64_t ledger_end = ledger_.parts[p].size();
  absl::StatusOr<size_t> n = EngineRound(*proc, p);
  if (zombie && ledger_.parts[p].size() > ledger_end) ++stats_.zombie_appends;
  if (n.ok() || absl::IsUnavailable(n.status()) || absl::IsDeadlineExceeded(n.status())) {
    // decided, or the log or store is away: the next round recovers
  } else if (IsSimulatedCrash(n.status())) {
    Crash(*proc);
    return;
  } else if (zombie && absl::IsFailedPrecondition(n.status())) {
    proc->zombie[p] = 0;  // fenced: the old engine learns it lost the partition
  } else {
    Fail(absl::StrCat(zombie ? "zombie " : "", "engine of partition ", p,
                      " stopped: ", n.status().ToString()));
  }
  if (zombie && proc->zombie[p]-- <= 0) {
    proc->zombie.erase(p);
    proc->parts.erase(p);
  }
}

void Run::Send(pb::Command cmd) {
  ++stats_.commands;
  absl::StatusOr<CommandPosition> at = AppendCommand(&client_log_, cmd);
  if (at.ok()) {
    ++stats_.acknowledged;
    acked_.push_back({*at, std::move(cmd)});
  } else {
    pending_.push_back(std::move(cmd));  // refused, or written and timed out: retried
  }
}

void Run::ClientAct() {
  if (!pending_.empty() && world_.Chance(500)) {
    const size_t i = world_.Pick(pending_.size());
    pb::Command cmd = std::move(pending_[i]);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    cmd.set_time_ms(world_.now_ms());  // the api stamps each attempt
    ++stats_.retries;
    Send(std::move(cmd));
    return;
  }
  if (campaigns_.empty() || (campaigns_.size() < kMaxCampaigns && world_.Chance(30))) {
    std::string id = "c" + std::to_string(campaigns_.size());
    campaigns_.push_back(id);
    ++stats_.campaigns;
    Send(RandomCreate(world_.rng(), id, world_.now_ms()));
    return;
  }
  // What the sender knows: the owning engine's state, if it is up.
  uint64_t now = world_.now_ms();
  const EngineState* view = nullptr;
  const int p = PartitionFor(campaigns_[world_.Pick(campaigns_.size())], partitions_);
  if (EngineProc* owner = OwnerOf(p); owner != nullptr && owner->alive)
    view = &owner->parts.at(p)->state();
  pb::Command cmd = RandomCommand(world_.rng(), now, campaigns_, view);
  world_.Advance(now - world_.now_ms());
  // Another api replica, whose clock is behind: commands reach the log out
  // of time order.
  if (world_.Chance(100)) cmd.set_time_ms(now - world_.Pick(2000));
  const std::string* user = cmd.has_request_entry()   ? &cmd.request_entry().user_id()
                            : cmd.has_confirm_entry() ? &cmd.confirm_entry().user_id()
                                                      : nullptr;
  if (user != nullptr && ValidateUserId(*user, Limits{}).ok() && world_.Chance(400)) {
    ++stats_.keyed;
    cmd.set_actor(*user);
    cmd.set_idempotency_key(absl::StrCat("k", ++keys_));
    cmd.set_request_hash(absl::StrCat("h", keys_));
  }
  Send(std::move(cmd));
}

void Run::TickAct() {
  std::vector<EngineProc*> up;
  for (auto& proc : procs_)
    if (proc->alive && !proc->owned.empty()) up.push_back(proc.get());
  if (up.empty()) return;
  EngineProc* proc = up[world_.Pick(up.size())];
  Ticker ticker(proc->commands.get(), std::vector<int>(proc->owned.begin(), proc->owned.end()),
                [proc](int p, const std::function<void(const EngineState&, uint64_t)>& fn) {
                  const PartitionEngine& pe = *proc->parts.at(p);
                  fn(pe.state(), pe.checkpoint().command_next_offset());
                },
                {});
  (void)ticker.TickOnce(world_.now_ms());  // a failed append: the next round ticks again
}

void Run::ProjectorAct() {
  if (projector_ == nullptr) {
    proj::ProjectorOptions po;
    po.batch_records = 1 + world_.Pick(16);  // small batches: many splits
    projector_ = std::make_unique<proj::Projector>(&projector_log_, &sink_, po);
    return;
  }
  absl::StatusOr<size_t> n = projector_->RoundOnce(static_cast<int>(world_.Pick(partitions_)));
  if (n.ok() || absl::IsUnavailable(n.status())) return;
  if (IsSimulatedCrash(n.status())) {
    ++stats_.projector_crashes;
    projector_.reset();
    return;
  }
  Fail(absl::StrCat("projector stopped: ", n.status().ToString()));
}

// The stage of a status: a read may show a later stage, never an earlier
// one; at stage 3 the status is final.
int Stage(EntryStatus s) {
  switch (s) {
    case EntryStatus::kQueued:
      return 0;
    case EntryStatus::kAdmitted:
    case EntryStatus::kWaitlisted:
      return 1;
    case EntryStatus::kWon:
      return 2;
    default:
      return 3;
  }
}

void Run::CheckReads(const EngineState& state) {
  for (const auto& [id, c] : state.campaigns) {
    std::vector<std::string>& users = read_users_[id];
    std::vector<EntryStatus>& seen = read_status_[id];
    for (uint64_t pos = 1; pos <= c->by_position.size(); ++pos) {
      const std::string_view user = c->user_at(pos);
      const EntryStatus st = c->status[pos - 1];
      if (pos > users.size()) users.emplace_back(user);
      if (users[pos - 1] != user)
        return Fail(absl::StrCat("a read showed position ", pos, " of ", id, " as ",
                                 std::string(user), " after ", users[pos - 1]));
      if (pos > seen.size()) seen.push_back(st);
      const EntryStatus before = seen[pos - 1];
      if (Stage(st) < Stage(before) || (Stage(before) == 3 && st != before))
        return Fail(absl::StrCat("a read showed position ", pos, " of ", id, " go from status ",
                                 static_cast<int>(before), " back to ", static_cast<int>(st)));
      seen[pos - 1] = st;
    }
  }
}

void Run::FollowerAct() {
  if (follower_ == nullptr) {
    follower_ = std::make_unique<LedgerFollower>(&follower_log_, SimConfig());
    read_status_.clear();
    return;
  }
  const int p = static_cast<int>(world_.Pick(partitions_));
  absl::StatusOr<size_t> n = follower_->RoundOnce(p);
  if (!n.ok() && !absl::IsUnavailable(n.status()))
    return Fail(absl::StrCat("the ledger follower stopped: ", n.status().ToString()));
  if (n.ok() && *n > 0)
    follower_->WithState(p, [this](const EngineState& s, uint64_t) { CheckReads(s); });
}

void Run::FaultAct() {
  if (!world_.faults()) return;
  switch (world_.Pick(9)) {
    case 7:  // an api replica restarts: its follower folds from the start again
      follower_.reset();
      ++stats_.follower_restarts;
      break;
    case 8:  // an api replica dies: the requests it had not answered are never retried
      stats_.requests_dropped += pending_.size();
      pending_.clear();
      break;
    case 0:
    case 1: {  // an engine process dies, maybe in the middle of an append
      EngineProc* proc = procs_[world_.Pick(procs_.size())].get();
      if (!proc->alive) break;
      if (world_.Chance(500)) {
        proc->ledger->ArmTear();
      } else {
        Crash(*proc);
      }
      break;
    }
    case 2:  // a dead one comes back
      for (auto& proc : procs_)
        if (!proc->alive) {
          Boot(*proc);
          break;
        }
      break;
    case 3:  // the projector restarts, maybe with its store emptied
      ++stats_.projector_crashes;
      projector_.reset();
      if (world_.Chance(300)) {
        ++stats_.sink_emptied;
        sink_.Empty();
      }
      break;
    case 4:
      ++stats_.store_outages;
      disks_[world_.Pick(disks_.size())]->AwayUntil(world_.now_ms() + world_.Pick(3000));
      break;
    case 5:
      ++stats_.sink_outages;
      sink_.AwayUntil(world_.now_ms() + world_.Pick(3000));
      break;
    case 6:
      Takeover(static_cast<int>(world_.Pick(partitions_)));
      break;
  }
}

void Run::Step() {
  ++stats_.steps;
  const uint64_t r = world_.Pick(100);
  if (r < 35) {
    ClientAct();
  } else if (r < 60) {
    EngineAct();
  } else if (r < 68) {
    ProjectorAct();
  } else if (r < 73) {
    FollowerAct();
  } else if (r < 77) {
    TickAct();
  } else if (r < 92) {
    world_.Advance(world_.Pick(1200));
    ledger_.Deliver(world_);
  } else {
    FaultAct();
  }
}

void Run::Heal() {
  world_.set_faults(false);
  for (auto& disk : disks_) disk->AwayUntil(0);
  sink_.AwayUntil(0);
  for (auto& proc : procs_) {
    if (!proc->alive) Boot(*proc);
    proc->ledger->DisarmTear();  // a crash armed before the faults stopped does not come
    proc->zombie.clear();        // the old engines stop: their partitions are not owned
    for (auto it = proc->parts.begin(); it != proc->parts.end();)
      it = proc->owned.contains(it->first) ? std::next(it) : proc->parts.erase(it);
  }
  for (int p = 0; p < partitions_; ++p) {
    EngineProc* owner = OwnerOf(p);
    for (;;) {
      absl::StatusOr<size_t> n = EngineRound(*owner, p);
      if (!n.ok())
        return Fail(
            absl::StrCat("healed engine of partition ", p, " failed: ", n.status().ToString()));
      if (*n == 0) break;
    }
    const uint64_t end = commands_.parts[p].size();
    if (owner->parts.at(p)->checkpoint().command_next_offset() != end)
      return Fail(absl::StrCat("partition ", p, ": the engine decided up to command ",
                               owner->parts.at(p)->checkpoint().command_next_offset(), " of ",
                               end));
  }
  ledger_.visible = LedgerEnds();  // the late readers see everything now
  if (follower_ == nullptr) {
    follower_ = std::make_unique<LedgerFollower>(&follower_log_, SimConfig());
    read_status_.clear();
  }
  for (int p = 0; p < partitions_; ++p) {
    for (;;) {
      absl::StatusOr<size_t> n = follower_->RoundOnce(p);
      if (!n.ok()) return Fail(absl::StrCat("healed follower failed: ", n.status().ToString()));
      if (*n == 0) break;
      follower_->WithState(p, [this](const EngineState& s, uint64_t) { CheckReads(s); });
    }
  }
  if (projector_ == nullptr)
    projector_ = std::make_unique<proj::Projector>(&projector_log_, &sink_);
  for (int p = 0; p < partitions_; ++p) {
    for (int round = 0; round < 100'000; ++round) {
      absl::StatusOr<size_t> n = projector_->RoundOnce(p);
      if (!n.ok()) return Fail(absl::StrCat("healed projector failed: ", n.status().ToString()));
      if (*n == 0) break;
    }
  }
}

SimResult Run::Go() {
  disks_.push_back(std::make_unique<SimKv>(&world_));
  std::set<int> all;
  for (int p = 0; p < partitions_; ++p) all.insert(p);
  NewProc(0, all);
  const int steps = options_.steps > 0 ? options_.steps : 200 + static_cast<int>(world_.Pick(600));
  for (int i = 0; i < steps && failure_.empty(); ++i) Step();
  if (failure_.empty()) Heal();
  if (failure_.empty()) Check();
  stats_.appends_refused = commands_.appends_refused + ledger_.appends_refused;
  stats_.appends_timed_out = commands_.appends_timed_out + ledger_.appends_timed_out;
  stats_.appends_doubled = commands_.appends_doubled + ledger_.appends_doubled;
  stats_.torn_appends = ledger_.torn;
  stats_.fenced = ledger_.fenced;
  stats_.reads_failed = commands_.reads_failed + ledger_.reads_failed;
  for (auto& disk : disks_) stats_.state_writes_lost += disk->writes_lost();
  stats_.sink_replies_lost = sink_.replies_lost();
  SimResult r;
  r.ok = failure_.empty();
  r.failure = failure_;
  r.stats = stats_;
  r.fingerprint = ToHex(Sha256(fingerprint_));
  return r;
}

}  // namespace

namespace {

absl::Status Run::ReadLedger(LogData* data, int p, std::vector<std::string>* events,
                             std::vector<pb::Event>* parsed) {
  SimLog log(data, &world_, {.faulty = false});
  LedgerReader reader(&log, p, {}, 4096);
  LedgerBatch batch;
  for (;;) {
    if (absl::Status st = reader.Next(&batch); !st.ok()) return st;
    if (batch.read == 0) return absl::OkStatus();
    for (pb::Event& e : batch.events) {
      events->push_back(e.SerializeAsString());
      parsed->push_back(std::move(e));
    }
  }
}

// Every acknowledged command answered exactly once: one run of events per
// command offset, the same commands answered as in the clean run, and one
// answer carrying each Idempotency-Key a client was told was accepted.
void Run::CheckAnswers(const std::vector<std::vector<pb::Event>>& faulty,
                       const std::vector<std::vector<pb::Event>>& clean) {
  std::vector<std::set<uint64_t>> answered(partitions_), answered_clean(partitions_);
  std::map<std::string, int> key_answers;
  for (int p = 0; p < partitions_; ++p) {
    uint64_t last = UINT64_MAX;
    for (const pb::Event& e : faulty[p]) {
      if (e.command_offset() != last && !answered[p].insert(e.command_offset()).second)
        return Fail(absl::StrCat("partition ", p, ": command ", e.command_offset(),
                                 " answered twice (ledger sequence ", e.sequence(), ")"));
      last = e.command_offset();
      if (e.has_idempotency())
        ++key_answers[absl::StrCat(e.idempotency().actor(), "|", e.campaign_id(), "|",
                                   e.idempotency().key())];
    }
    for (const pb::Event& e : clean[p]) answered_clean[p].insert(e.command_offset());
  }
  for (const Acked& a : acked_) {
    const int p = a.at.partition;
    if (answered[p].contains(a.at.offset) != answered_clean[p].contains(a.at.offset))
      return Fail(
          absl::StrCat("acknowledged command ", a.at.offset, " of partition ", p, " (",
                       a.command.ShortDebugString(), ") ",
                       answered[p].contains(a.at.offset) ? "answered" : "never answered",
                       " where the clean run ",
                       answered_clean[p].contains(a.at.offset) ? "answered it" : "did not"));
    if (a.command.idempotency_key().empty()) continue;
    const std::string key = absl::StrCat(a.command.actor(), "|", a.command.campaign_id(), "|",
                                         a.command.idempotency_key());
    if (key_answers[key] != 1)
      return Fail(absl::StrCat("Idempotency-Key ", a.command.idempotency_key(), " of ",
                               a.command.actor(), " answered ", key_answers[key],
                               " times (acknowledged at command ", a.at.offset, ")"));
  }
}

void Run::Check() {
  // The clean run: the same commands log, one engine, no faults.
  LogData clean_ledger(partitions_);
  SimKv clean_disk(&world_);
  StateStore clean_store(std::make_unique<KvRef>(&clean_disk));
  SimLog clean_commands(&commands_, &world_, {.faulty = false});
  SimLog clean_out(&clean_ledger, &world_, {.faulty = false});
  std::vector<std::vector<pb::Event>> faulty_events(partitions_), clean_events(partitions_);
  for (int p = 0; p < partitions_; ++p) {
    PartitionEngine clean(p, &clean_commands, &clean_out, &clean_store, SimConfig(), Limits{});
    clean.set_recovery_read_ahead(false);
    absl::Status st = clean.Recover();
    for (absl::StatusOr<size_t> n = 1; st.ok() && n.ok() && *n > 0;) {
      n = clean.Step();
      st = n.status();
    }
    if (!st.ok()) return Fail(absl::StrCat("the clean run failed: ", st.ToString()));
    std::vector<std::string> got, want;
    if (st = ReadLedger(&ledger_, p, &got, &faulty_events[p]); !st.ok())
      return Fail(absl::StrCat("reading the ledger of partition ", p, ": ", st.ToString()));
    if (st = ReadLedger(&clean_ledger, p, &want, &clean_events[p]); !st.ok())
      return Fail(absl::StrCat("reading the clean ledger: ", st.ToString()));
    stats_.ledger_events += got.size();
    for (const std::string& e : got) fingerprint_.append(ToHex(Sha256(e)));
    for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
      if (i >= got.size() || i >= want.size() || got[i] != want[i])
        return Fail(absl::StrCat(
            "partition ", p, ": the ledger differs from a clean run at event ", i + 1, " of ",
            got.size(), " (clean: ", want.size(),
            "): ", i < faulty_events[p].size() ? faulty_events[p][i].ShortDebugString() : "(none)",
            " where the clean run has ",
            i < clean_events[p].size() ? clean_events[p][i].ShortDebugString() : "(none)"));
    }
    const EngineState& live = OwnerOf(p)->parts.at(p)->state();
    if (live.digest != clean.state().digest) {
      std::string which;
      for (const auto& [id, c] : live.campaigns) {
        const CampaignState* other = clean.state().Find(id);
        if (other == nullptr || other->snap.SerializeAsString() != c->snap.SerializeAsString())
          which = absl::StrCat(" (campaign ", id, ": ", c->snap.ShortDebugString(),
                               " where the clean run has ",
                               other == nullptr ? "none" : other->snap.ShortDebugString(), ")");
      }
      return Fail(absl::StrCat("partition ", p, ": the state digest differs from a clean run",
                               which, "; next sequence ", live.next_sequence, " vs ",
                               clean.state().next_sequence));
    }
    bool follows = false;
    follower_->WithState(
        p, [&](const EngineState& s, uint64_t) { follows = s.digest == live.digest; });
    if (!follows)
      return Fail(
          absl::StrCat("partition ", p, ": the api's ledger follower folded another state"));
    for (const auto& [id, c] : live.campaigns)
      if (absl::Status inv = CheckInvariants(*c); !inv.ok())
        return Fail(absl::StrCat("campaign ", id, ": ", inv.ToString()));
    // The projection: every event applied once, in ledger order.
    if (sink_.applied(p) != got)
      return Fail(absl::StrCat("partition ", p, ": the projection holds ", sink_.applied(p).size(),
                               " events where the ledger has ", got.size(), " (or they differ)"));
  }
  CheckAnswers(faulty_events, clean_events);
  if (!failure_.empty()) return;
  SimLog audit_ledger(&ledger_, &world_, {.faulty = false});
  SimLog audit_commands(&commands_, &world_, {.faulty = false});
  AuditOptions ao;
  ao.config = SimConfig();
  ao.have_secret = true;
  AuditReport report = Audit(&audit_ledger, &audit_commands, ao);
  if (!report.error.empty()) return Fail(absl::StrCat("the audit could not run: ", report.error));
  for (const Finding& f : report.violations) {
    // The statistical tests can flag a fair drop by chance (p < 0.001):
    // here only the rules count.
    if (f.check == "win rate" || f.check == "uniformity" || f.check == "arrival order") continue;
    return Fail(
        absl::StrCat("the audit found: campaign ", f.campaign, ": ", f.check, ": ", f.detail));
  }
}

}  // namespace

void SimStats::Add(const SimStats& o) {
  steps += o.steps;
  commands += o.commands;
  acknowledged += o.acknowledged;
  retries += o.retries;
  keyed += o.keyed;
  campaigns += o.campaigns;
  ledger_events += o.ledger_events;
  engine_crashes += o.engine_crashes;
  torn_appends += o.torn_appends;
  takeovers += o.takeovers;
  fenced += o.fenced;
  zombie_appends += o.zombie_appends;
  appends_refused += o.appends_refused;
  appends_timed_out += o.appends_timed_out;
  appends_doubled += o.appends_doubled;
  reads_failed += o.reads_failed;
  state_writes_lost += o.state_writes_lost;
  store_outages += o.store_outages;
  projector_crashes += o.projector_crashes;
  sink_emptied += o.sink_emptied;
  sink_outages += o.sink_outages;
  sink_replies_lost += o.sink_replies_lost;
  follower_restarts += o.follower_restarts;
  requests_dropped += o.requests_dropped;
}

SimResult Simulate(const SimOptions& options) { return Run(options).Go(); }

namespace {
constexpr std::pair<PlantedBug, std::string_view> kBugs[] = {
    {PlantedBug::kNone, "none"},
    {PlantedBug::kFoldForgetsStockChange, "fold-forgets-stock-change"},
    {PlantedBug::kRecoveryResumesLate, "recovery-resumes-late"},
    {PlantedBug::kCheckpointBeforeData, "checkpoint-before-data"},
};
}  // namespace

bool ParsePlantedBug(std::string_view name, PlantedBug* out) {
  for (const auto& [bug, n] : kBugs)
    if (n == name) {
      *out = bug;
      return true;
    }
  return false;
}

std::string_view PlantedBugName(PlantedBug bug) {
  for (const auto& [b, n] : kBugs)
    if (b == bug) return n;
  return "none";
}

std::string ReplayCommand(const SimOptions& options) {
  std::string cmd =
      absl::StrCat("ticketctl simulate --seed ", options.seed, options.faults ? " --faults" : "");
  if (options.steps > 0) absl::StrAppend(&cmd, " --steps ", options.steps);
  if (options.partitions > 0) absl::StrAppend(&cmd, " --sim-partitions ", options.partitions);
  if (planted_bug != PlantedBug::kNone)
    absl::StrAppend(&cmd, " --plant ", std::string(PlantedBugName(planted_bug)));
  return cmd;
}

}  // namespace tl::sim
