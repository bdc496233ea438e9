#include "engine/core/decide.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "engine/core/merkle.h"
#include "engine/core/names.h"

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
  // The event New() made last.
  pb::Event& Last() { return (*out_)[out_->size() - 1]; }
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
// Stock is tracked per item (one implicit item without items) and in total.
class Cursor {
 public:
  Cursor(const CampaignState& c, uint64_t time_ms)
      : c_(c),
        time_ms_(time_ms),
        last_position_(c.snap.last_position()),
        serving_(c.snap.serving()),
        stock_left_(c.snap.stock_left()),
        choosing_(c.snap.admitted_choosing()),
        opened_(c.snap.opened()) {
    const size_t n = std::max<size_t>(1, c.items());
    for (size_t i = 0; i < n; ++i) {
      item_left_.push_back(c.ItemStockLeft(i));
      promoted_.push_back(c.PromotedOf(i));
    }
  }

  uint64_t waiting() const { return last_position_ - serving_; }
  bool opened() const { return opened_; }
  uint64_t stock_left() const { return stock_left_; }
  uint64_t item_left(size_t i) const { return item_left_[i]; }
  uint64_t last_position() const { return last_position_; }

  std::string_view user_at(uint64_t position) const {
    uint64_t known = c_.snap.last_position();
    return position <= known ? c_.user_at(position) : pending_[position - known - 1].user;
  }
  uint64_t entered_ms(uint64_t position) const {
    return position <= c_.snap.last_position() ? c_.entered_ms[position - 1] : time_ms_;
  }
  // What a position asked for (at entry): item index and units.
  size_t item_at(uint64_t position) const {
    uint64_t known = c_.snap.last_position();
    return position <= known ? c_.ItemAt(position) : pending_[position - known - 1].item;
  }
  uint32_t quantity_at(uint64_t position) const {
    uint64_t known = c_.snap.last_position();
    return position <= known ? c_.QuantityAt(position) : pending_[position - known - 1].quantity;
  }
  // A new win's hold deadline (0: the win is final).
  uint64_t HoldDeadline() const {
    const uint32_t hold_s = c_.snap.config().hold_s();
    return hold_s == 0 ? 0 : time_ms_ + uint64_t{hold_s} * 1000;
  }

  // Gives the next position to `user` (QueueEntered), asking for `quantity`
  // of `item` (with items, at entry).
  void Enqueue(Emitter& em, std::string_view user, std::string prequeue_key = {}, size_t item = 0,
               uint32_t quantity = 1) {
    auto* q = NewQueueEntered(em.New());
    q->set_user_id(std::string(user));
    q->set_position(++last_position_);
    if (!prequeue_key.empty()) q->set_prequeue_key(std::move(prequeue_key));
    if (c_.items() > 0 && !c_.on_admission()) {
      q->set_item_id(ItemId(item));
      q->set_quantity(quantity);
    }
    pending_.push_back({user, item, quantity});
  }

  // RANDOM campaigns: orders the pre-queue by the seed and gives positions.
  // (Pre-queued entries of an at-entry campaign keep what they asked for in
  // the state's pre-queue: see EntryPrequeued.)
  void Open(Emitter& em) {
    struct Waiting {
      Hash key;
      std::string_view user;
      size_t item;
      uint32_t quantity;
      bool operator<(const Waiting& o) const { return key < o.key; }
    };
    std::vector<Waiting> order;
    order.reserve(c_.prequeue.size());
    for (size_t k = 0; k < c_.prequeue.size(); ++k) {
      std::string_view user = c_.names[c_.prequeue[k]];
      const auto [item, quantity] = PrequeuedAsk(k);
      order.push_back({c_.drawer.PrequeueKey(c_.snap.campaign_id(), user), user, item, quantity});
    }
    std::sort(order.begin(), order.end());
    for (const Waiting& w : order) {
      Enqueue(em, w.user, std::string(reinterpret_cast<const char*>(w.key.data()), w.key.size()),
              w.item, w.quantity);
    }
    opened_ = true;
  }

  // Serves the next `n` positions: each is admitted and drawn in order.
  // credit_milli is the credit before the first admission. A campaign that
  // lets the admitted choose stops while those choosing could take every
  // unit left (the place goes to the next once one chooses or expires).
  void Admit(Emitter& em, uint64_t n, uint64_t credit_milli) {
    TL_CHECK(!c_.at_close());
    const uint32_t win_bps = c_.snap.config().win_bps();
    const std::string& campaign = c_.snap.campaign_id();
    for (uint64_t i = 0; i < n; ++i) {
      if (Gated()) return;
      uint64_t position = ++serving_;
      std::string_view user = user_at(position);
      credit_milli = credit_milli >= 1000 ? credit_milli - 1000 : 0;
      if (waiting() == 0) credit_milli = 0;
      auto* a = NewEntryAdmitted(em.New());
      a->set_position(position);
      a->set_user_id(std::string(user));
      a->set_credit_milli(credit_milli);

      uint64_t value = c_.drawer.DrawValue(campaign, position, user);
      auto* d = NewDrawResolved(em.New());
      d->set_position(position);
      d->set_user_id(std::string(user));
      d->set_draw_value(value);
      pb::Outcome outcome = pb::OUTCOME_LOST;
      if (UnderThreshold(value, win_bps)) {
        if (c_.on_admission()) {
          outcome = stock_left_ > 0 ? pb::OUTCOME_ADMITTED : pb::OUTCOME_SOLD_OUT;
        } else {
          outcome = item_left_[item_at(position)] >= quantity_at(position) ? pb::OUTCOME_WON
                                                                           : pb::OUTCOME_SOLD_OUT;
        }
      }
      d->set_outcome(outcome);
      if (outcome == pb::OUTCOME_WON) {
        Take(item_at(position), quantity_at(position));
        d->set_hold_until_ms(HoldDeadline());
      } else if (outcome == pb::OUTCOME_ADMITTED) {
        ++choosing_;
        d->set_choose_until_ms(time_ms_ + uint64_t{c_.snap.config().choose_s()} * 1000);
      }
      d->set_stock_left(stock_left_);
      if (c_.items() > 0 && !c_.on_admission()) {
        d->set_item_id(ItemId(item_at(position)));
        d->set_quantity(quantity_at(position));
        d->set_item_stock_left(item_left_[item_at(position)]);
      }
    }
  }

  // Rate 0 (and not paused): everything waiting is served at once.
  void AdmitAllIfImmediate(Emitter& em) {
    if (c_.snap.config().admission_rate_per_s() == 0 && !c_.snap.paused() && opened_ok() &&
        !c_.at_close()) {
      Admit(em, waiting(), 0);
    }
  }

  // Holds whose deadline this command's time has reached expire first, in
  // (deadline, position) order, each returning its units; then admissions
  // whose choice deadline passed, in the same order.
  void ExpireHolds(Emitter& em) {
    bool returned = false;
    for (auto it = c_.hold_order.begin(); it != c_.hold_order.end() && it->first <= time_ms_;
         ++it) {
      const auto [deadline, position] = *it;
      auto* x = em.New().mutable_hold_expired();
      x->set_user_id(c_.user_at(position));
      x->set_position(position);
      x->set_hold_until_ms(deadline);
      ReturnUnits(em, c_.ItemAt(position), c_.QuantityAt(position), pb::STOCK_HOLD_EXPIRED);
      returned = true;
    }
    if (returned) Promote(em);
    for (auto it = c_.choose_order.begin(); it != c_.choose_order.end() && it->first <= time_ms_;
         ++it) {
      const auto [deadline, position] = *it;
      auto* x = em.New().mutable_choice_expired();
      x->set_user_id(c_.user_at(position));
      x->set_position(position);
      x->set_choose_until_ms(deadline);
      --choosing_;
    }
  }

  // StockChanged +units of item `item`.
  void ReturnUnits(Emitter& em, size_t item, uint64_t units, pb::StockReason reason) {
    stock_left_ += units;
    item_left_[item] += units;
    auto* sc = em.New().mutable_stock_changed();
    sc->set_delta(static_cast<int64_t>(units));
    sc->set_reason(reason);
    sc->set_stock_left(stock_left_);
    if (c_.items() > 0) {
      sc->set_item_id(ItemId(item));
      sc->set_item_stock_left(item_left_[item]);
    }
  }

  // After an at-close draw: the head of each item's waitlist takes units
  // that came back, in order, while its whole quantity fits.
  void Promote(Emitter& em) {
    if (!c_.at_close() || !c_.snap.closed()) return;
    for (size_t item = 0; item < item_left_.size(); ++item) {
      const std::vector<uint64_t>& list = c_.WaitlistOf(item);
      while (promoted_[item] < list.size()) {
        const uint64_t position = list[promoted_[item]];
        const uint32_t quantity = c_.QuantityAt(position);
        if (item_left_[item] < quantity) break;
        ++promoted_[item];
        Take(item, quantity);
        auto* p = em.New().mutable_entry_promoted();
        p->set_user_id(c_.user_at(position));
        p->set_position(position);
        p->set_waitlist_rank(promoted_[item]);
        p->set_hold_until_ms(HoldDeadline());
        p->set_stock_left(stock_left_);
        if (c_.items() > 0) {
          p->set_item_id(ItemId(item));
          p->set_quantity(quantity);
          p->set_item_stock_left(item_left_[item]);
        }
      }
    }
  }

  // DRAW_AT_CLOSE: draws every queued position at once (draw.h), keyed with
  // `drawer`; per item, in (value, position) order, an eligible entry wins
  // when its whole quantity fits and waits otherwise. DrawResolved in
  // position order.
  void DrawAtClose(Emitter& em, const Drawer& drawer) {
    const uint32_t win_bps = c_.snap.config().win_bps();
    const std::string& campaign = c_.snap.campaign_id();
    const uint64_t first = serving_ + 1, n = waiting();
    std::vector<uint64_t> values(n);
    std::vector<std::pair<uint64_t, uint64_t>> eligible;  // (value, position)
    for (uint64_t i = 0; i < n; ++i) {
      values[i] = drawer.DrawValue(campaign, first + i, user_at(first + i));
      if (UnderThreshold(values[i], win_bps)) eligible.emplace_back(values[i], first + i);
    }
    std::sort(eligible.begin(), eligible.end());
    // rank[i]: 0 lost, kWins won, else the rank on its item's waitlist.
    constexpr uint64_t kWins = UINT64_MAX;
    std::vector<uint64_t> rank(n, 0);
    std::vector<uint64_t> left(item_left_.begin(), item_left_.end()),
        waiting_on(item_left_.size(), 0);
    for (const auto& [value, position] : eligible) {
      const size_t item = item_at(position);
      const uint32_t quantity = quantity_at(position);
      if (left[item] >= quantity) {
        left[item] -= quantity;
        rank[position - first] = kWins;
      } else {
        rank[position - first] = ++waiting_on[item];
      }
    }
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t position = ++serving_;
      auto* d = NewDrawResolved(em.New());
      d->set_position(position);
      d->set_user_id(std::string(user_at(position)));
      d->set_draw_value(values[i]);
      if (rank[i] == 0) {
        d->set_outcome(pb::OUTCOME_LOST);
      } else if (rank[i] == kWins) {
        d->set_outcome(pb::OUTCOME_WON);
        Take(item_at(position), quantity_at(position));
        d->set_hold_until_ms(HoldDeadline());
      } else {
        d->set_outcome(pb::OUTCOME_WAITLISTED);
        d->set_waitlist_rank(rank[i]);
      }
      d->set_stock_left(stock_left_);
      if (c_.items() > 0) {
        d->set_item_id(ItemId(item_at(position)));
        d->set_quantity(quantity_at(position));
        d->set_item_stock_left(item_left_[item_at(position)]);
      }
    }
  }

  // CHOOSE_ON_ADMISSION: `position` takes `quantity` units of `item`.
  void Choose(Emitter& em, uint64_t position, size_t item, uint32_t quantity) {
    Take(item, quantity);
    --choosing_;
    auto* x = em.New().mutable_item_chosen();
    x->set_user_id(c_.user_at(position));
    x->set_position(position);
    x->set_item_id(ItemId(item));
    x->set_quantity(quantity);
    x->set_item_stock_left(item_left_[item]);
    x->set_stock_left(stock_left_);
    x->set_hold_until_ms(HoldDeadline());
  }

  // The Merkle root over every position (merkle.h), this answer's included.
  Hash EntriesRoot() const {
    return MerkleRoot(last_position_, [&](uint64_t i) {
      return MerkleLeafHash(MerkleLeaf(i + 1, entered_ms(i + 1), user_at(i + 1)));
    });
  }

 private:
  struct Pending {
    std::string_view user;
    size_t item;
    uint32_t quantity;
  };
  bool opened_ok() const { return c_.snap.config().queueing() != pb::QUEUEING_RANDOM || opened_; }
  // The admitted who have not chosen could take every unit left: wait.
  bool Gated() const { return c_.on_admission() && choosing_ > 0 && stock_left_ <= choosing_; }
  void Take(size_t item, uint64_t units) {
    TL_CHECK_GE(item_left_[item], units);
    item_left_[item] -= units;
    stock_left_ -= units;
  }
  const std::string& ItemId(size_t item) const {
    return c_.snap.config().items(static_cast<int>(item)).id();
  }
  // What the k-th pre-queued user asked for (at-entry items), else item 0 x1.
  std::pair<size_t, uint32_t> PrequeuedAsk(size_t k) const {
    if (k >= c_.prequeue_asks.size()) return {0, 1};
    return {c_.prequeue_asks[k].first, c_.prequeue_asks[k].second};
  }

  const CampaignState& c_;
  uint64_t time_ms_;
  uint64_t last_position_;
  uint64_t serving_;
  uint64_t stock_left_;
  uint64_t choosing_;
  bool opened_;
  // Per item (one without items); inline up to 8 items: a Cursor is made
  // for every command, and two heap vectors each were ~5% of decide + fold.
  absl::InlinedVector<uint64_t, 8> item_left_;
  absl::InlinedVector<uint64_t, 8> promoted_;
  std::vector<Pending> pending_;  // positions > c_.last_position
};

bool IsRandom(const CampaignState& c) { return c.snap.config().queueing() == pb::QUEUEING_RANDOM; }

// A RANDOM campaign opens at the first command at or after opens_at_ms.
bool DueToOpen(const CampaignState& c, uint64_t time_ms) {
  return IsRandom(c) && !c.snap.opened() && time_ms >= c.snap.config().opens_at_ms();
}

// The items, quantities and choice options of a create; "" when fine.
std::string InvalidItems(const pb::CreateCampaign& req, const Limits& limits) {
  if (req.per_user_max() > limits.quantity_max)
    return absl::StrCat("per_user_max is ", req.per_user_max(), "; the limit is ",
                        limits.quantity_max);
  if (req.choose() != pb::CHOOSE_UNSPECIFIED && req.choose() != pb::CHOOSE_AT_ENTRY &&
      req.choose() != pb::CHOOSE_ON_ADMISSION)
    return absl::StrCat("choose ", static_cast<int>(req.choose()), " is unknown");
  if (req.items_size() == 0) {
    if (req.choose() != pb::CHOOSE_UNSPECIFIED || req.choose_s() != 0 || req.per_user_max() > 1)
      return "choose, choose_s and per_user_max > 1 need items";
    return "";
  }
  if (static_cast<size_t>(req.items_size()) > limits.items_per_campaign_max)
    return absl::StrCat(req.items_size(), " items; the limit is ", limits.items_per_campaign_max);
  if (req.stock() != 0) return "with items, stock is per item: leave the campaign's stock 0";
  std::set<std::string_view> ids;
  uint64_t total = 0;
  for (int i = 0; i < req.items_size(); ++i) {
    const pb::Item& item = req.items(i);
    if (absl::Status st = ValidateItemId(item.id(), limits); !st.ok())
      return absl::StrCat("item ", i + 1, ": ", st.message());
    if (!ids.insert(item.id()).second) return absl::StrCat("item id ", item.id(), " is used twice");
    if (item.label().size() > limits.item_label_bytes_max || !IsCleanUtf8(item.label()))
      return absl::StrCat("item ", item.id(), ": the label must be at most ",
                          limits.item_label_bytes_max,
                          " bytes of UTF-8 without control characters");
    if (item.per_user_max() > limits.quantity_max)
      return absl::StrCat("item ", item.id(), ": per_user_max is ", item.per_user_max(),
                          "; the limit is ", limits.quantity_max);
    total += item.stock();
    if (item.stock() > limits.stock_max || total > limits.stock_max)
      return absl::StrCat("the items' stock would exceed the limit of ", limits.stock_max);
  }
  if (req.choose() == pb::CHOOSE_ON_ADMISSION) {
    if (req.choose_s() == 0 || req.choose_s() > limits.choose_s_max)
      return absl::StrCat("choose_s is ", req.choose_s(), "; choosing on admission needs 1..",
                          limits.choose_s_max, " seconds");
    if (req.draw() == pb::DRAW_AT_CLOSE)
      return "choosing on admission needs an instant draw (the admitted choose as they come in)";
  } else if (req.choose_s() != 0) {
    return "choose_s needs choose on_admission";
  }
  return "";
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
  if (req.hold_s() > limits.hold_s_max)
    return em.Reject(
        "", pb::REJECT_INVALID_ARGUMENT,
        absl::StrCat("hold_s is ", req.hold_s(), "; the limit is ", limits.hold_s_max));
  if (req.draw() != pb::DRAW_UNSPECIFIED && req.draw() != pb::DRAW_INSTANT &&
      req.draw() != pb::DRAW_AT_CLOSE)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("draw ", static_cast<int>(req.draw()), " is unknown"));
  if (req.draw() == pb::DRAW_AT_CLOSE && req.admission_rate_per_s() != 0)
    return em.Reject(
        "", pb::REJECT_INVALID_ARGUMENT,
        "a draw at close admits nobody before the close: admission_rate_per_s must be 0");
  if (req.entropy_source().size() > limits.entropy_source_bytes_max ||
      !IsCleanUtf8(req.entropy_source()))
    return em.Reject(
        "", pb::REJECT_INVALID_ARGUMENT,
        absl::StrCat("entropy_source must be at most ", limits.entropy_source_bytes_max,
                     " bytes of UTF-8 without control characters"));
  if (!req.entropy_source().empty() && req.draw() != pb::DRAW_AT_CLOSE)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     "entropy_source needs draw at_close (an instant draw cannot wait for it)");
  if (std::string why = InvalidItems(req, limits); !why.empty())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::move(why));
  auto* created = em.New().mutable_campaign_created();
  *created->mutable_config() = req;
  if (req.queueing() == pb::QUEUEING_UNSPECIFIED)
    created->mutable_config()->set_queueing(pb::QUEUEING_FIFO);
  // draw stays as asked (UNSPECIFIED means INSTANT): a campaign that uses
  // none of the newer options is written byte for byte as before them.
  if (req.max_entries() == 0)
    created->mutable_config()->set_max_entries(limits.entries_per_campaign_max);
  Hash commitment =
      SeedCommitment(DeriveSeed(config.seed_secret, cmd.campaign_id(), req.seed_nonce()));
  created->set_seed_commitment(
      std::string(reinterpret_cast<const char*>(commitment.data()), commitment.size()));
}

// The item and units an entry or a choice asks for; false after rejecting a
// request for an unknown item or too many units.
bool Ask(const CampaignState& c, const std::string& user, const std::string& item_id,
         uint32_t quantity_asked, size_t* item, uint32_t* quantity, Emitter& em) {
  const int i = c.ItemIndex(item_id);
  if (i < 0) {
    em.Reject(user, pb::REJECT_UNKNOWN_ITEM,
              item_id.empty() ? std::string("name an item (item_id): this campaign sells several")
                              : absl::StrCat("campaign ", c.snap.campaign_id(), " has no item ",
                                             IsCleanUtf8(item_id) && item_id.size() <= 64
                                                 ? item_id
                                                 : std::string("(invalid id)")));
    return false;
  }
  *item = static_cast<size_t>(i);
  *quantity = quantity_asked == 0 ? 1 : quantity_asked;
  if (*quantity > c.QuantityMax(*item)) {
    em.Reject(user, pb::REJECT_QUANTITY,
              absl::StrCat(*quantity, " units of ", item_id,
                           " asked for; one user may take at most ", c.QuantityMax(*item)));
    return false;
  }
  return true;
}

// An entry's ask: none without items or when choosing on admission (item 0,
// one unit), else the item and units named.
bool EntryAsk(const CampaignState& c, const pb::RequestEntry& req, size_t* item, uint32_t* quantity,
              Emitter& em) {
  if (c.items() == 0 || c.on_admission()) {
    if (!req.item_id().empty() || req.quantity() > 1) {
      em.Reject(req.user_id(), pb::REJECT_UNKNOWN_ITEM,
                c.items() == 0 ? "this campaign sells one kind of unit: name no item"
                               : "this campaign lets you choose when admitted: name no item now");
      return false;
    }
    return true;
  }
  return Ask(c, req.user_id(), req.item_id(), req.quantity(), item, quantity, em);
}

void DecideEntry(const CampaignState& c, Cursor& cur, const Limits& limits, const pb::Command& cmd,
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
  size_t item = 0;
  uint32_t quantity = 1;
  if (!EntryAsk(c, cmd.request_entry(), &item, &quantity, em)) return;
  const uint64_t opens_at = c.snap.config().opens_at_ms();
  if (IsRandom(c)) {
    if (!c.snap.opened() && cmd.time_ms() < opens_at) {
      if (c.snap.prequeued() >= limits.prequeue_max)
        return em.Reject(user, pb::REJECT_CAMPAIGN_FULL,
                         absl::StrCat("the pre-queue is full (", limits.prequeue_max,
                                      " users); try again at the opening"));
      auto* pq = em.New().mutable_entry_prequeued();
      pq->set_user_id(user);
      if (c.items() > 0 && !c.on_admission()) {
        pq->set_item_id(cmd.request_entry().item_id());
        pq->set_quantity(quantity);
      }
      return;
    }
    if (!c.snap.opened()) cur.Open(em);
  } else if (cmd.time_ms() < opens_at) {
    return em.Reject(
        user, pb::REJECT_NOT_YET_OPEN,
        absl::StrCat("campaign opens at ", opens_at, " ms; request was at ", cmd.time_ms(), " ms"));
  }
  cur.Enqueue(em, user, {}, item, quantity);
  cur.AdmitAllIfImmediate(em);
}

void DecideTick(const CampaignState& c, Cursor& cur, const pb::Command& cmd, Emitter& em) {
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

// The position of `user`'s entry for a cancel or a confirmation, or 0 after
// rejecting. Holds that expired are gone from the state's holds by now
// (ExpireHolds ran first), so a kWon without a live hold is final or expired
// at this very command; its status says which.
uint64_t StandingWin(const CampaignState& c, const Limits& limits, const std::string& user,
                     uint64_t time_ms, bool confirming, Emitter& em) {
  if (absl::Status st = ValidateUserId(user, limits); !st.ok()) {
    em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
    return 0;
  }
  auto it = c.position_of.find(user);
  if (it == c.position_of.end()) {
    em.Reject(user, pb::REJECT_NOT_ENTERED, "user has no entry in this campaign");
    return 0;
  }
  const uint64_t pos = (it->second & kPrequeuedBit) ? 0 : it->second;
  const EntryStatus st = pos == 0 ? EntryStatus::kQueued : c.status[pos - 1];
  const uint64_t hold = pos == 0 ? 0 : c.HoldOf(pos);
  if (st == EntryStatus::kExpired || (st == EntryStatus::kWon && hold != 0 && hold <= time_ms)) {
    em.Reject(user, pb::REJECT_HOLD_EXPIRED,
              hold != 0
                  ? absl::StrCat("the hold on position ", pos, " expired at ", hold,
                                 " ms; its unit went back")
                  : absl::StrCat("the hold on position ", pos, " expired; its unit went back"),
              pos);
    return 0;
  }
  if (st == EntryStatus::kConfirmed) {
    em.Reject(user, pb::REJECT_ALREADY_CONFIRMED,
              absl::StrCat("position ", pos, " is already confirmed"), pos);
    return 0;
  }
  if (st != EntryStatus::kWon) {
    em.Reject(user, confirming ? pb::REJECT_NOT_CONFIRMABLE : pb::REJECT_NOT_CANCELLABLE,
              absl::StrCat(confirming ? "only a won entry can be confirmed"
                                      : "only a won entry can be cancelled",
                           " (this one is ", pos == 0 ? "pre-queued" : EntryStatusName(st), ")"),
              pos);
    return 0;
  }
  return pos;
}

void DecideCancel(const CampaignState& c, Cursor& cur, const Limits& limits, const pb::Command& cmd,
                  Emitter& em) {
  const std::string& user = cmd.cancel_entry().user_id();
  const uint64_t pos = StandingWin(c, limits, user, cmd.time_ms(), false, em);
  if (pos == 0) return;
  auto* x = em.New().mutable_entry_cancelled();
  x->set_user_id(user);
  x->set_position(pos);
  cur.ReturnUnits(em, c.ItemAt(pos), c.QuantityAt(pos), pb::STOCK_CANCELLATION);
  cur.Promote(em);
}

void DecideConfirm(const CampaignState& c, const Limits& limits, const pb::Command& cmd,
                   Emitter& em) {
  const pb::ConfirmEntry& req = cmd.confirm_entry();
  const uint64_t pos = StandingWin(c, limits, req.user_id(), cmd.time_ms(), true, em);
  if (pos == 0) return;
  const std::string pass = PassId(c.snap.campaign_id(), pos);
  if (req.pass_id() != pass)
    return em.Reject(
        req.user_id(), pb::REJECT_PASS_MISMATCH,
        absl::StrCat("this entry's pass is ", pass, "; the confirmation named another"), pos);
  auto* x = em.New().mutable_entry_confirmed();
  x->set_user_id(req.user_id());
  x->set_position(pos);
  x->set_pass_id(pass);
}

// The at-close draw's key, or a rejection for a close without the committed
// entropy value (or with one nobody committed to).
bool AtCloseDrawer(const CampaignState& c, const Limits& limits, const std::string& value,
                   Drawer* drawer, Emitter& em) {
  const bool committed = !c.snap.config().entropy_source().empty();
  if (!committed && !value.empty()) {
    em.Reject("", pb::REJECT_INVALID_ARGUMENT,
              "this campaign committed to no entropy source, so its close takes no entropy value");
    return false;
  }
  if (committed && (value.empty() || value.size() > limits.entropy_value_bytes_max)) {
    em.Reject("", pb::REJECT_INVALID_ARGUMENT,
              absl::StrCat("close needs the value of the committed entropy source (\"",
                           c.snap.config().entropy_source(), "\"), 1..",
                           limits.entropy_value_bytes_max, " bytes"));
    return false;
  }
  if (c.at_close()) *drawer = Drawer(AtCloseKey(c.seed, committed, value));
  return true;
}

void DecideClose(const CampaignState& c, Cursor& cur, const Limits& limits, const pb::Command& cmd,
                 Emitter& em) {
  if (c.snap.closed())
    return em.Reject("", pb::REJECT_CAMPAIGN_CLOSED, "campaign is already closed");
  const std::string& value = cmd.close_campaign().entropy_value();
  Drawer drawer;
  if (!AtCloseDrawer(c, limits, value, &drawer, em)) return;
  // A RANDOM campaign closed before its opening still orders its pre-queue:
  // those users entered in time.
  if (IsRandom(c) && !c.snap.opened() && c.snap.prequeued() > 0) {
    cur.Open(em);
    cur.AdmitAllIfImmediate(em);
  }
  auto* closed = em.New().mutable_campaign_closed();
  closed->set_entries(c.entries());
  const Hash root = cur.EntriesRoot();
  closed->set_merkle_root(std::string(reinterpret_cast<const char*>(root.data()), root.size()));
  closed->set_merkle_leaves(cur.last_position());
  closed->set_entropy_value(value);
  if (c.at_close()) cur.DrawAtClose(em, drawer);
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

void DecideRestock(const CampaignState& c, Cursor& cur, const Limits& limits,
                   const pb::Command& cmd, Emitter& em) {
  uint64_t units = cmd.restock().units();
  if (units == 0) return em.Reject("", pb::REJECT_INVALID_ARGUMENT, "restock units must be > 0");
  if (units > limits.stock_max || cur.stock_left() + units > limits.stock_max)
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT,
                     absl::StrCat("stock would exceed the limit of ", limits.stock_max));
  size_t item = 0;
  if (c.items() > 0 || !cmd.restock().item_id().empty()) {
    const int i = c.ItemIndex(cmd.restock().item_id());
    if (i < 0)
      return em.Reject("", pb::REJECT_UNKNOWN_ITEM,
                       c.items() == 0 ? std::string("this campaign has no items: name none")
                                      : std::string("restock names an item of this campaign"));
    item = static_cast<size_t>(i);
  }
  cur.ReturnUnits(em, item, units, pb::STOCK_RESTOCK);
  cur.Promote(em);
}

void DecideChoose(const CampaignState& c, Cursor& cur, const Limits& limits, const pb::Command& cmd,
                  Emitter& em) {
  const pb::ChooseItem& req = cmd.choose_item();
  const std::string& user = req.user_id();
  if (absl::Status st = ValidateUserId(user, limits); !st.ok())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, std::string(st.message()));
  if (!c.on_admission())
    return em.Reject(user, pb::REJECT_NOT_ADMITTED,
                     "this campaign does not let the admitted choose (choose is not on_admission)");
  auto it = c.position_of.find(user);
  if (it == c.position_of.end())
    return em.Reject(user, pb::REJECT_NOT_ENTERED, "user has no entry in this campaign");
  const uint64_t pos = (it->second & kPrequeuedBit) ? 0 : it->second;
  const EntryStatus st = pos == 0 ? EntryStatus::kQueued : c.status[pos - 1];
  if (st == EntryStatus::kChoiceExpired ||
      (st == EntryStatus::kAdmitted && c.choose_until.at(pos) <= cmd.time_ms()))
    return em.Reject(user, pb::REJECT_CHOICE_EXPIRED,
                     absl::StrCat("the time to choose for position ", pos, " is over"), pos);
  if (st == EntryStatus::kWon || st == EntryStatus::kConfirmed || st == EntryStatus::kCancelled ||
      st == EntryStatus::kExpired)
    return em.Reject(user, pb::REJECT_ALREADY_CHOSEN,
                     absl::StrCat("position ", pos, " has chosen already"), pos);
  if (st != EntryStatus::kAdmitted)
    return em.Reject(user, pb::REJECT_NOT_ADMITTED,
                     absl::StrCat("not admitted to choose (the entry is ",
                                  pos == 0 ? "pre-queued" : EntryStatusName(st), ")"),
                     pos);
  size_t item = 0;
  uint32_t quantity = 1;
  if (!Ask(c, user, req.item_id(), req.quantity(), &item, &quantity, em)) return;
  if (cur.item_left(item) < quantity) {
    em.Reject(user, pb::REJECT_ITEM_FULL,
              absl::StrCat(quantity, " of ", req.item_id(), " asked for, ", cur.item_left(item),
                           " left: choose another or fewer"),
              pos);
    pb::EntryRejected* r = em.Last().mutable_entry_rejected();
    r->set_item_id(req.item_id());
    r->set_quantity(quantity);
    r->set_item_stock_left(cur.item_left(item));
    return;
  }
  cur.Choose(em, pos, item, quantity);
}

void DecidePause(const CampaignState& c, Cursor& cur, bool pause, Emitter& em) {
  if (pause) {
    if (c.snap.paused())
      return em.Reject("", pb::REJECT_INVALID_ARGUMENT, "admission is already paused");
    em.New().mutable_admission_paused();
    return;
  }
  if (!c.snap.paused())
    return em.Reject("", pb::REJECT_INVALID_ARGUMENT, "admission is not paused");
  em.New().mutable_admission_resumed();
  if (c.snap.config().admission_rate_per_s() == 0 && (!IsRandom(c) || c.snap.opened()) &&
      !c.at_close())
    cur.Admit(em, cur.waiting(), 0);
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
  if (cmd.has_confirm_entry()) user = cmd.confirm_entry().user_id();
  if (cmd.has_choose_item()) user = cmd.choose_item().user_id();
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
  Cursor cur(*c, cmd.time_ms());
  cur.ExpireHolds(em);
  switch (cmd.body_case()) {
    case pb::Command::kRequestEntry:
      DecideEntry(*c, cur, limits, cmd, em);
      break;
    case pb::Command::kTick:
      DecideTick(*c, cur, cmd, em);
      break;
    case pb::Command::kCancelEntry:
      DecideCancel(*c, cur, limits, cmd, em);
      break;
    case pb::Command::kConfirmEntry:
      DecideConfirm(*c, limits, cmd, em);
      break;
    case pb::Command::kCloseCampaign:
      DecideClose(*c, cur, limits, cmd, em);
      break;
    case pb::Command::kRevealSeed:
      DecideReveal(*c, em);
      break;
    case pb::Command::kRestock:
      DecideRestock(*c, cur, limits, cmd, em);
      break;
    case pb::Command::kChooseItem:
      DecideChoose(*c, cur, limits, cmd, em);
      break;
    case pb::Command::kPauseAdmission:
    case pb::Command::kResumeAdmission:
      DecidePause(*c, cur, cmd.body_case() == pb::Command::kPauseAdmission, em);
      break;
    case pb::Command::kCreateCampaign:
    case pb::Command::BODY_NOT_SET:
      break;
  }
  // Choosing on admission: a choice, an expiry or units back may make room
  // for the next in the queue (rate 0: at once; otherwise at the next tick).
  if (c->on_admission() && cmd.body_case() != pb::Command::kRequestEntry)
    cur.AdmitAllIfImmediate(em);
  return absl::OkStatus();
}

}  // namespace tl
