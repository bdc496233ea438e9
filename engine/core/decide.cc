#include "engine/core/decide.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tl {
namespace {

// Longest gap between ticks that earns admission credit (bounds the 64-bit
// product elapsed_ms x rate; an engine idle for a day does not owe a day).
constexpr uint64_t kElapsedMsMax = 86'400'000;

// Body messages kept for reuse by ClearEvents, per thread (Decide runs on
// many threads at once: engine partitions, the audit's re-decide).
template <typename M>
class Spares {
 public:
  // A cleared message, or null when none is kept.
  M* Take() {
    if (items_.empty()) return nullptr;
    M* m = items_.back().release();
    items_.pop_back();
    m->Clear();
    return m;
  }
  void Keep(M* m) {
    if (items_.size() < 64) {
      items_.emplace_back(m);
    } else {
      delete m;
    }
  }

 private:
  std::vector<std::unique_ptr<M>> items_;
};
thread_local Spares<pb::QueueEntered> spare_entered;
thread_local Spares<pb::EntryAdmitted> spare_admitted;
thread_local Spares<pb::DrawResolved> spare_drawn;

pb::QueueEntered* NewQueueEntered(pb::Event& e) {
  pb::QueueEntered* m = e.GetArena() == nullptr ? spare_entered.Take() : nullptr;
  if (m == nullptr) return e.mutable_queue_entered();
  e.set_allocated_queue_entered(m);
  return m;
}
pb::EntryAdmitted* NewEntryAdmitted(pb::Event& e) {
  pb::EntryAdmitted* m = e.GetArena() == nullptr ? spare_admitted.Take() : nullptr;
  if (m == nullptr) return e.mutable_entry_admitted();
  e.set_allocated_entry_admitted(m);
  return m;
}
pb::DrawResolved* NewDrawResolved(pb::Event& e) {
  pb::DrawResolved* m = e.GetArena() == nullptr ? spare_drawn.Take() : nullptr;
  if (m == nullptr) return e.mutable_draw_resolved();
  e.set_allocated_draw_resolved(m);
  return m;
}

class Emitter {
 public:
  Emitter(const pb::Command& cmd, uint64_t offset, bool request_id_ok, EventList* out)
      : cmd_(cmd), offset_(offset), request_id_ok_(request_id_ok), out_(out) {}

  pb::Event& New() {
    pb::Event& e = *out_->Add();
    e.set_campaign_id(cmd_.campaign_id());
    e.set_command_offset(offset_);
    e.set_time_ms(cmd_.time_ms());
    if (request_id_ok_) e.set_request_id(cmd_.request_id());
    if (remember_key_ && out_->size() == 1) {  // the first event of the answer
      pb::IdempotencyKey* k = e.mutable_idempotency();
      k->set_actor(cmd_.actor());
      k->set_key(cmd_.idempotency_key());
      k->set_request_hash(cmd_.request_hash());
    }
    return e;
  }
  // The answer carries the command's Idempotency-Key (IdempotencyTable).
  void RememberKey() { remember_key_ = true; }

  void Reject(std::string_view user, pb::RejectReason reason, std::string detail,
              uint64_t original_position = 0) {
    auto* r = New().mutable_entry_rejected();
    r->set_user_id(std::string(user));
    r->set_reason(reason);
    r->set_detail(std::move(detail));
    r->set_original_position(original_position);
  }

 private:
  const pb::Command& cmd_;
  uint64_t offset_;
  bool request_id_ok_;
  bool remember_key_ = false;
  EventList* out_;
};

// The counters of one campaign as they stand part-way through a decision.
class Cursor {
 public:
  explicit Cursor(const CampaignState& c)
      : c_(c),
        last_position_(c.snap.last_position()),
        serving_(c.snap.serving()),
        stock_left_(c.snap.stock_left()),
        opened_(c.snap.opened()) {}

  uint64_t waiting() const { return last_position_ - serving_; }
  bool opened() const { return opened_; }

  std::string_view user_at(uint64_t position) const {
    uint64_t known = c_.snap.last_position();
    return position <= known ? c_.user_at(position) : pending_[position - known - 1];
  }

  // Gives the next position to `user` (QueueEntered).
  void Enqueue(Emitter& em, std::string_view user, std::string prequeue_key = {}) {
    auto* q = NewQueueEntered(em.New());
    q->set_user_id(std::string(user));
    q->set_position(++last_position_);
    if (!prequeue_key.empty()) q->set_prequeue_key(std::move(prequeue_key));
    pending_.push_back(user);
  }

  // RANDOM campaigns: orders the pre-queue by the seed and gives positions.
  void Open(Emitter& em) {
    std::vector<std::pair<Hash, std::string_view>> order;
    order.reserve(c_.prequeue.size());
    for (uint32_t idx : c_.prequeue) {
      std::string_view user = c_.names[idx];
      order.emplace_back(c_.drawer.PrequeueKey(c_.snap.campaign_id(), user), user);
    }
    std::sort(order.begin(), order.end());
    for (auto& [key, user] : order) {
      Enqueue(em, user, std::string(reinterpret_cast<const char*>(key.data()), key.size()));
    }
    opened_ = true;
  }

  // Serves the next `n` positions: each is admitted and drawn in order.
  // credit_milli is the credit before the first admission.
  void Admit(Emitter& em, uint64_t n, uint64_t credit_milli) {
    const uint32_t win_bps = c_.snap.config().win_bps();
    const std::string& campaign = c_.snap.campaign_id();
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t position = ++serving_;
      std::string_view user = user_at(position);
      credit_milli = credit_milli >= 1000 ? credit_milli - 1000 : 0;
      if (waiting() == 0) credit_milli = 0;
      auto* a = NewEntryAdmitted(em.New());
      a->set_position(position);
      a->set_user_id(std::string(user));
      a->set_credit_milli(credit_milli);

      uint64_t value = c_.drawer.DrawValue(campaign, position, user);
      pb::Outcome outcome = pb::OUTCOME_LOST;
      if (UnderThreshold(value, win_bps)) {
        if (stock_left_ > 0) {
          outcome = pb::OUTCOME_WON;
          --stock_left_;
        } else {
          outcome = pb::OUTCOME_SOLD_OUT;
        }
      }
      auto* d = NewDrawResolved(em.New());
      d->set_position(position);
      d->set_user_id(std::string(user));
      d->set_outcome(outcome);
      d->set_draw_value(value);
      d->set_stock_left(stock_left_);
    }
  }

  // Rate 0 (and not paused): everything waiting is served at once.
  void AdmitAllIfImmediate(Emitter& em) {
    if (c_.snap.config().admission_rate_per_s() == 0 && !c_.snap.paused() && opened_ok()) {
      Admit(em, waiting(), 0);
    }
  }

 private:
  bool opened_ok() const { return c_.snap.config().queueing() != pb::QUEUEING_RANDOM || opened_; }

  const CampaignState& c_;
  uint64_t last_position_;
  uint64_t serving_;
  uint64_t stock_left_;
  bool opened_;
  std::vector<std::string_view> pending_;  // users of positions > c_.last_position
};

bool IsRandom(const CampaignState& c) { return c.snap.config().queueing() == pb::QUEUEING_RANDOM; }

// A RANDOM campaign opens at the first command at or after opens_at_ms.
bool DueToOpen(const CampaignState& c, uint64_t time_ms) {
  return IsRandom(c) && !c.snap.opened() && time_ms >= c.snap.config().opens_at_ms();
}

void DecideCreate(const EngineState& s, const EngineConfig& config, const Limits& limits,
                  const pb::Command& cmd, Emitter& em) {
  const auto& req = cmd.create_campaign();
  if (absl::Status st = ValidateCampaignId(cmd.campaign_id(), limits); !st.ok())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
  if (s.Find(cmd.campaign_id()) != nullptr)
    return em.Reject("", pb::REJECT_CAMPAIGN_EXISTS,
                     absl::StrCat("campaign ", cmd.campaign_id(), " already exists"));
  if (absl::Status st = ValidateTitle(req.title(), limits); !st.ok())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
  if (req.win_bps() > 10000)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("win_bps is ", req.win_bps(), "; it must be 0..10000"));
  if (req.stock() > limits.stock_max)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("stock is ", req.stock(), "; the limit is ", limits.stock_max));
  if (req.admission_rate_per_s() > limits.admission_rate_per_s_max)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("admission_rate_per_s is ", req.admission_rate_per_s(),
                                  "; the limit is ", limits.admission_rate_per_s_max));
  if (req.max_entries() > limits.entries_per_campaign_max)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("max_entries is ", req.max_entries(), "; the limit is ",
                                  limits.entries_per_campaign_max));
  if (req.seed_nonce().size() > 32)
    return em.Reject(
        "", pb::REJECT_INVALID_ARGUMENT,
        absl::StrCat("seed_nonce is ", req.seed_nonce().size(), " bytes; the limit is 32"));
  if (req.queueing() != pb::QUEUEING_UNSPECIFIED && req.queueing() != pb::QUEUEING_FIFO &&
      req.queueing() != pb::QUEUEING_RANDOM)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("queueing ", static_cast<int>(req.queueing()), " is unknown"));
  auto* created = em.New().mutable_campaign_created();
  *created->mutable_config() = req;
  if (req.queueing() == pb::QUEUEING_UNSPECIFIED)
    created->mutable_config()->set_queueing(pb::QUEUEING_FIFO);
  if (req.max_entries() == 0)
    created->mutable_config()->set_max_entries(limits.entries_per_campaign_max);
  Hash commitment =
      SeedCommitment(DeriveSeed(config.seed_secret, cmd.campaign_id(), req.seed_nonce()));
  created->set_seed_commitment(
      std::string(reinterpret_cast<const char*>(commitment.data()), commitment.size()));
}

void DecideEntry(const CampaignState& c, const Limits& limits, const pb::Command& cmd,
                 Emitter& em) {
  const std::string& user = cmd.request_entry().user_id();
  if (absl::Status st = ValidateUserId(user, limits); !st.ok())
    return em.Reject(IsCleanUtf8(user) && user.size() <= limits.user_id_bytes_max ? user : "",
                     pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
  if (auto it = c.position_of.find(user); it != c.position_of.end()) {
    uint64_t pos = (it->second & kPrequeuedBit) ? 0 : it->second;
    return em.Reject(user, pb::REJECT_DUPLICATE,
                     pos ? absl::StrCat("user already holds position ", pos)
                         : std::string("user is already in the pre-queue"),
                     pos);
  }
  if (c.snap.closed())
    return em.Reject(user, pb::REJECT_CAMPAIGN_CLOSED,
                     absl::StrCat("campaign ", c.snap.campaign_id(), " is closed"));
  if (c.entries() >= c.snap.config().max_entries())
    return em.Reject(
        user, pb::REJECT_CAMPAIGN_FULL,
        absl::StrCat("campaign is full (", c.snap.config().max_entries(), " entries)"));
  const uint64_t opens_at = c.snap.config().opens_at_ms();
  Cursor cur(c);
  if (IsRandom(c)) {
    if (!c.snap.opened() && cmd.time_ms() < opens_at) {
      if (c.snap.prequeued() >= limits.prequeue_max)
        return em.Reject(user, pb::REJECT_CAMPAIGN_FULL,
                         absl::StrCat("the pre-queue is full (", limits.prequeue_max,
                                      " users); try again at the opening"));
      em.New().mutable_entry_prequeued()->set_user_id(user);
      return;
    }
    if (!c.snap.opened()) cur.Open(em);
  } else if (cmd.time_ms() < opens_at) {
    return em.Reject(
        user, pb::REJECT_NOT_YET_OPEN,
        absl::StrCat("campaign opens at ", opens_at, " ms; request was at ", cmd.time_ms(), " ms"));
  }
  cur.Enqueue(em, user);
  cur.AdmitAllIfImmediate(em);
}

void DecideTick(const CampaignState& c, const pb::Command& cmd, Emitter& em) {
  Cursor cur(c);
  if (DueToOpen(c, cmd.time_ms())) {
    cur.Open(em);
    cur.AdmitAllIfImmediate(em);
    return;
  }
  const uint64_t rate = c.snap.config().admission_rate_per_s();
  if (c.snap.paused() || rate == 0 || cur.waiting() == 0) return;
  if (IsRandom(c) && !c.snap.opened()) return;
  uint64_t elapsed = cmd.time_ms() > c.snap.clock_ms() ? cmd.time_ms() - c.snap.clock_ms() : 0;
  uint64_t credit = c.snap.credit_milli() + std::min(elapsed, kElapsedMsMax) * rate;
  uint64_t n = std::min(credit / 1000, cur.waiting());
  if (n > 0) cur.Admit(em, n, credit);
}

void DecideCancel(const CampaignState& c, const Limits& limits, const pb::Command& cmd,
                  Emitter& em) {
  const std::string& user = cmd.cancel_entry().user_id();
  if (absl::Status st = ValidateUserId(user, limits); !st.ok())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
  auto it = c.position_of.find(user);
  if (it == c.position_of.end())
    return em.Reject(user, pb::REJECT_NOT_ENTERED, "user has no entry in this campaign");
  uint64_t pos = (it->second & kPrequeuedBit) ? 0 : it->second;
  if (pos == 0 || c.status[pos - 1] != EntryStatus::kWon)
    return em.Reject(user, pb::REJECT_NOT_CANCELLABLE, "only a won entry can be cancelled", pos);
  auto* x = em.New().mutable_entry_cancelled();
  x->set_user_id(user);
  x->set_position(pos);
  auto* sc = em.New().mutable_stock_changed();
  sc->set_delta(1);
  sc->set_reason(pb::STOCK_CANCELLATION);
  sc->set_stock_left(c.snap.stock_left() + 1);
}

void DecideClose(const CampaignState& c, Emitter& em) {
  if (c.snap.closed())
    return em.Reject("", pb::REJECT_CAMPAIGN_CLOSED, "campaign is already closed");
  // A RANDOM campaign closed before its opening still orders its pre-queue:
  // those users entered in time.
  Cursor cur(c);
  if (IsRandom(c) && !c.snap.opened() && c.snap.prequeued() > 0) {
    cur.Open(em);
    cur.AdmitAllIfImmediate(em);
  }
  em.New().mutable_campaign_closed()->set_entries(c.entries());
}

void DecideReveal(const CampaignState& c, Emitter& em) {
  if (c.snap.revealed())
    return em.Reject("", pb::REJECT_ALREADY_REVEALED, "the seed is already revealed");
  if (!c.snap.closed())
    return em.Reject("", pb::REJECT_NOT_DRAINED, "close the campaign before revealing its seed");
  if (c.waiting() > 0)
    return em.Reject("", pb::REJECT_NOT_DRAINED,
                     absl::StrCat(c.waiting(), " positions still wait to be drawn"));
  em.New().mutable_seed_revealed()->set_seed(
      std::string(reinterpret_cast<const char*>(c.seed.data()), c.seed.size()));
}

void DecideRestock(const CampaignState& c, const Limits& limits, const pb::Command& cmd,
                   Emitter& em) {
  uint64_t units = cmd.restock().units();
  if (units == 0) return em.Reject("", pb::REJECT_INVALID_ARGUMENT, "restock units must be > 0");
  if (units > limits.stock_max || c.snap.stock_left() + units > limits.stock_max)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("stock would exceed the limit of ", limits.stock_max));
  auto* sc = em.New().mutable_stock_changed();
  sc->set_delta(static_cast<int64_t>(units));
  sc->set_reason(pb::STOCK_RESTOCK);
  sc->set_stock_left(c.snap.stock_left() + units);
}

}  // namespace

void ClearEvents(EventList* list) {
  for (pb::Event& e : *list) {
    if (e.GetArena() != nullptr) continue;
    switch (e.body_case()) {
      case pb::Event::kQueueEntered:
        spare_entered.Keep(e.release_queue_entered());
        break;
      case pb::Event::kEntryAdmitted:
        spare_admitted.Keep(e.release_entry_admitted());
        break;
      case pb::Event::kDrawResolved:
        spare_drawn.Keep(e.release_draw_resolved());
        break;
      default:
        break;
    }
  }
  list->Clear();
}

// The user a command concerns (for a rejection), if it names a valid one.
std::string UserOf(const pb::Command& cmd, const Limits& limits) {
  std::string user;
  if (cmd.has_request_entry()) user = cmd.request_entry().user_id();
  if (cmd.has_cancel_entry()) user = cmd.cancel_entry().user_id();
  if (!ValidateUserId(user, limits).ok()) user.clear();
  return user;
}

// A command with an Idempotency-Key: false if it is answered already — a
// repeat (no event: the original command's events are the answer) or the key
// reused for another request (rejected) or malformed; true to decide it, its
// answer then carrying the key.
bool DecideIdempotency(const EngineState& state, const Limits& limits, const pb::Command& cmd,
                       Emitter& em) {
  absl::Status st = ValidateRequestId(cmd.idempotency_key(), limits);
  if (st.ok()) st = ValidateUserId(cmd.actor(), limits);
  if (st.ok() && cmd.request_hash().size() > 64)
    st = absl::InvalidArgumentError("request hash over 64 bytes");
  if (!st.ok()) {
    em.Reject(UserOf(cmd, limits), pb::REJECT_INVALID_ARGUMENT,
              absl::StrCat("idempotency: ", st.message()));
    return false;
  }
  const IdempotencyTable::Entry* seen =
      state.idempotency.Find(cmd.actor(), cmd.campaign_id(), cmd.idempotency_key(), cmd.time_ms());
  if (seen == nullptr) {
    em.RememberKey();
    return true;
  }
  if (seen->request_hash != cmd.request_hash())
    em.Reject(UserOf(cmd, limits), pb::REJECT_IDEMPOTENCY_MISMATCH,
              absl::StrCat("this Idempotency-Key was used for another request (command ",
                           seen->command_offset, ")"));
  return false;
}

absl::Status Decide(const EngineState& state, const EngineConfig& config, const Limits& limits,
                    const pb::Command& cmd, uint64_t command_offset, EventList* out) {
  if (config.seed_secret.empty())
    return absl::FailedPreconditionError("cannot decide without the seed secret");
  if (cmd.body_case() == pb::Command::BODY_NOT_SET)
    return absl::DataLossError(absl::StrCat("command at offset ", command_offset,
                                            " has no body this engine knows (a newer api?)"));
  Emitter em(cmd, command_offset, ValidateRequestId(cmd.request_id(), limits).ok(), out);
  if (!cmd.idempotency_key().empty() && !DecideIdempotency(state, limits, cmd, em))
    return absl::OkStatus();
  if (cmd.body_case() == pb::Command::kCreateCampaign) {
    DecideCreate(state, config, limits, cmd, em);
    return absl::OkStatus();
  }
  const CampaignState* c = state.Find(cmd.campaign_id());
  if (c == nullptr) {
    em.Reject(UserOf(cmd, limits), pb::REJECT_UNKNOWN_CAMPAIGN,
              ValidateCampaignId(cmd.campaign_id(), limits).ok()
                  ? absl::StrCat("no campaign ", cmd.campaign_id())
                  : "no such campaign (the id is not valid)");
    return absl::OkStatus();
  }
  switch (cmd.body_case()) {
    case pb::Command::kRequestEntry:
      DecideEntry(*c, limits, cmd, em);
      break;
    case pb::Command::kTick:
      DecideTick(*c, cmd, em);
      break;
    case pb::Command::kCancelEntry:
      DecideCancel(*c, limits, cmd, em);
      break;
    case pb::Command::kCloseCampaign:
      DecideClose(*c, em);
      break;
    case pb::Command::kRevealSeed:
      DecideReveal(*c, em);
      break;
    case pb::Command::kRestock:
      DecideRestock(*c, limits, cmd, em);
      break;
    case pb::Command::kPauseAdmission:
      if (c->snap.paused()) {
        em.Reject("", pb::REJECT_INVALID_ARGUMENT, "admission is already paused");
      } else {
        em.New().mutable_admission_paused();
      }
      break;
    case pb::Command::kResumeAdmission:
      if (!c->snap.paused()) {
        em.Reject("", pb::REJECT_INVALID_ARGUMENT, "admission is not paused");
      } else {
        em.New().mutable_admission_resumed();
        if (c->snap.config().admission_rate_per_s() == 0 && (!IsRandom(*c) || c->snap.opened())) {
          Cursor cur(*c);
          cur.Admit(em, cur.waiting(), 0);
        }
      }
      break;
    case pb::Command::kConfirmEntry:  // holds land with the next commit
      em.Reject(UserOf(cmd, limits), pb::REJECT_NOT_CONFIRMABLE, "holds are not built yet");
      break;
    case pb::Command::kCreateCampaign:
    case pb::Command::BODY_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

}  // namespace tl
