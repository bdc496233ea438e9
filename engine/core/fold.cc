#include "engine/core/fold.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/core/draw.h"
#include "engine/core/names.h"
#include "engine/core/planted.h"

namespace tl {
namespace {

absl::Status Broken(const pb::Event& e, absl::string_view what) {
  return absl::InternalError(absl::StrCat("invariant violated at ledger sequence ", e.sequence(),
                                          " (campaign ", e.campaign_id(), "): ", what));
}

// A user who now holds an entry is no longer "rejected".
void ForgetRejection(CampaignState& c, const std::string& user) {
  if (c.rejected_users.empty()) return;
  if (c.rejected_users.erase(user) > 0) c.dirty_rejected.push_back(user);
}

absl::Status FoldCreated(EngineState* s, const EngineConfig& config, const pb::Event& e) {
  if (s->Find(e.campaign_id()) != nullptr) return Broken(e, "campaign created twice");
  const auto& created = e.campaign_created();
  auto c = std::make_unique<CampaignState>();
  // Without the secret (a process that only folds) the seed stays unknown
  // until SeedRevealed.
  if (!config.seed_secret.empty()) {
    c->seed = DeriveSeed(config.seed_secret, e.campaign_id(), created.config().seed_nonce());
    Hash commitment = SeedCommitment(c->seed);
    if (created.seed_commitment() !=
        std::string_view(reinterpret_cast<const char*>(commitment.data()), commitment.size()))
      return absl::FailedPreconditionError(absl::StrCat(
          "campaign ", e.campaign_id(),
          ": the seed commitment in the ledger does not match this engine's seed secret "
          "(the ledger was written with another secret)"));
    c->drawer = Drawer(c->seed);
  }
  c->snap.set_campaign_id(e.campaign_id());
  *c->snap.mutable_config() = created.config();
  c->snap.set_seed_commitment(created.seed_commitment());
  c->snap.set_stock_left(created.config().stock());
  if (!created.config().items().empty()) {
    uint64_t total = 0;
    for (const pb::Item& item : created.config().items()) {
      c->snap.add_items()->set_stock_left(item.stock());
      total += item.stock();
    }
    c->snap.set_stock_left(total);
    c->item_waitlists.resize(c->items());
  }
  c->snap.set_clock_ms(e.time_ms());
  c->dirty = true;
  s->campaigns.emplace(e.campaign_id(), std::move(c));
  return absl::OkStatus();
}

// Units taken and not given back: wins (promotions included) less those
// cancelled or expired.
uint64_t UnitsOut(const pb::CampaignSnapshot& snap) {
  return snap.won() - snap.cancelled() - snap.expired();
}

// With items: the item an event touched balances (stock + restocked = left
// + taken - returned) and its confirmed units are units out. The items' sum
// equals the campaign's stock left by construction (every change moves
// both); CheckInvariants checks it over all items.
absl::Status CheckItemBalance(const CampaignState& c, const pb::Event& e, size_t i) {
  const pb::ItemCounters& n = c.snap.items(static_cast<int>(i));
  const pb::Item& item = c.snap.config().items(static_cast<int>(i));
  if (n.returned() > n.taken())
    return Broken(e, absl::StrCat("item ", item.id(), ": more units returned than taken"));
  if (n.stock_left() + n.taken() - n.returned() != item.stock() + n.restocked())
    return Broken(e, absl::StrCat("item ", item.id(), ": stock does not balance"));
  if (n.confirmed() > n.taken() - n.returned())
    return Broken(e, absl::StrCat("item ", item.id(), ": more confirmed than units out"));
  return absl::OkStatus();
}

// Stock conservation, checked whenever stock or wins move (of `item`).
absl::Status CheckStockBalance(const CampaignState& c, const pb::Event& e, size_t item) {
  if (c.items() > 0) return CheckItemBalance(c, e, item);
  const auto& snap = c.snap;
  if (snap.cancelled() + snap.expired() > snap.won())
    return Broken(e, "more units given back than won");
  if (UnitsOut(snap) > snap.config().stock() + snap.restocked())
    return Broken(e, "wins - cancellations - expiries exceed initial stock + restocks");
  if (snap.stock_left() + UnitsOut(snap) != snap.config().stock() + snap.restocked())
    return Broken(e, "stock does not balance");
  if (snap.confirmed() > UnitsOut(snap)) return Broken(e, "more confirmed than units out");
  return absl::OkStatus();
}

// A new win's hold: `hold_until` must be the event's time + hold_s (0 when
// hold_s is 0).
absl::Status TakeHold(CampaignState& c, const pb::Event& e, uint64_t position,
                      uint64_t hold_until) {
  const uint32_t hold_s = c.snap.config().hold_s();
  const uint64_t want = hold_s == 0 ? 0 : e.time_ms() + uint64_t{hold_s} * 1000;
  if (hold_until != want)
    return Broken(
        e, absl::StrCat("hold deadline ", hold_until, " is not event time + hold_s (", want, ")"));
  if (hold_until != 0) c.SetHold(position, hold_until);
  return absl::OkStatus();
}

// `units` of item `item` leave the stock (a win, a choice, a promotion).
absl::Status TakeUnits(CampaignState& c, const pb::Event& e, size_t item, uint64_t units) {
  if (c.ItemStockLeft(item) < units) return Broken(e, "units taken beyond the stock left");
  c.snap.set_stock_left(c.snap.stock_left() - units);
  if (c.items() > 0) {
    pb::ItemCounters* n = c.snap.mutable_items(static_cast<int>(item));
    n->set_stock_left(n->stock_left() - units);
    n->set_taken(n->taken() + units);
  }
  return absl::OkStatus();
}

// The item and units an event names for an entry with items, checked
// against the campaign (0 and 1 without items).
absl::Status EventAsk(const CampaignState& c, const pb::Event& e, const std::string& item_id,
                      uint32_t quantity, size_t* item, uint32_t* units) {
  *item = 0;
  *units = 1;
  if (c.items() == 0 || c.on_admission()) {
    if (!item_id.empty() || quantity > 1) return Broken(e, "an item where the entry names none");
    return absl::OkStatus();
  }
  const int i = c.ItemIndex(item_id);
  if (i < 0) return Broken(e, "an entry for an unknown item");
  *item = static_cast<size_t>(i);
  *units = quantity == 0 ? 1 : quantity;
  if (*units > c.QuantityMax(*item)) return Broken(e, "more units than one user may take");
  return absl::OkStatus();
}

absl::Status FoldEntryPrequeued(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const std::string& user = e.entry_prequeued().user_id();
  if (snap.opened() || snap.config().queueing() != pb::QUEUEING_RANDOM)
    return Broken(e, "pre-queue entry outside a RANDOM campaign's pre-opening");
  if (c.position_of.contains(user)) return Broken(e, "user entered twice");
  if (c.entries() >= snap.config().max_entries()) return Broken(e, "entry cap exceeded");
  c.names.push_back(user);
  uint32_t idx = static_cast<uint32_t>(c.names.size() - 1);
  c.position_of.emplace(UserKey(c.names.back()), kPrequeuedBit | idx);
  ForgetRejection(c, user);
  c.prequeue.push_back(idx);
  if (c.items() > 0 && !c.on_admission()) {
    size_t item;
    uint32_t units;
    const auto& pq = e.entry_prequeued();
    if (absl::Status st = EventAsk(c, e, pq.item_id(), pq.quantity(), &item, &units); !st.ok())
      return st;
    c.prequeue_asks.emplace_back(item, units);
  }
  snap.set_prequeued(snap.prequeued() + 1);
  return absl::OkStatus();
}

absl::Status FoldQueueEntered(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& q = e.queue_entered();
  if (q.position() != snap.last_position() + 1)
    return Broken(
        e, absl::StrCat("position ", q.position(), " is not gapless after ", snap.last_position()));
  // One hash and probe of the user index: a new user is inserted where
  // the lookup ended (the key points into the names arena).
  bool inserted = false;
  const UserKey key(&q.user_id(), UserKey::Hash(q.user_id()));  // hashed once
  auto it = c.entries() < snap.config().max_entries()
                ? c.position_of.lazy_emplace(key,
                                             [&](const auto& construct) {
                                               c.names.push_back(q.user_id());
                                               construct(UserKey(&c.names.back(), key.hash),
                                                         q.position());
                                               inserted = true;
                                             })
                : c.position_of.find(key);
  uint32_t idx;
  if (inserted) {
    idx = static_cast<uint32_t>(c.names.size() - 1);
    ForgetRejection(c, q.user_id());
  } else if (it == c.position_of.end()) {
    return Broken(e, "entry cap exceeded");
  } else {
    if (!(it->second & kPrequeuedBit)) return Broken(e, "user entered twice");
    idx = static_cast<uint32_t>(it->second & ~kPrequeuedBit);
    it->second = q.position();
    snap.set_prequeued(snap.prequeued() - 1);
  }
  if (c.waiting() == 0) {  // the queue starts moving now (its clock never goes back)
    snap.set_clock_ms(std::max(snap.clock_ms(), e.time_ms()));
    snap.set_credit_milli(0);
  }
  if (c.items() > 0) {
    size_t item;
    uint32_t units;
    if (absl::Status st = EventAsk(c, e, q.item_id(), q.quantity(), &item, &units); !st.ok())
      return st;
    c.item_of.push_back(c.on_admission() ? 0 : static_cast<uint8_t>(item + 1));
    c.quantity_of.push_back(c.on_admission() ? 0 : static_cast<uint8_t>(units));
  }
  c.by_position.push_back(idx);
  c.status.push_back(EntryStatus::kQueued);
  c.entered_ms.push_back(e.time_ms());
  c.dirty_positions.push_back(q.position());
  snap.set_last_position(q.position());
  if (snap.config().queueing() == pb::QUEUEING_RANDOM) {
    snap.set_opened(true);
    if (snap.prequeued() == 0) {
      c.prequeue.clear();
      c.prequeue_asks.clear();
    }
  }
  return absl::OkStatus();
}

absl::Status FoldEntryRejected(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  snap.set_rejected(snap.rejected() + 1);
  const std::string& user = e.entry_rejected().user_id();
  if (!user.empty() && !c.position_of.contains(user)) {
    c.rejected_users[user] = static_cast<uint8_t>(e.entry_rejected().reason());
    c.dirty_rejected.push_back(user);
  }
  return absl::OkStatus();
}

absl::Status FoldEntryAdmitted(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& a = e.entry_admitted();
  if (c.at_close()) return Broken(e, "an admission in an at-close campaign");
  if (a.position() != snap.serving() + 1) return Broken(e, "admission out of order");
  if (a.position() > snap.last_position())
    return Broken(e, "serving counter passes the last position");
  if (c.user_at(a.position()) != a.user_id()) return Broken(e, "admitted the wrong user");
  snap.set_serving(a.position());
  snap.set_clock_ms(std::max(snap.clock_ms(), e.time_ms()));
  snap.set_credit_milli(a.credit_milli());
  return absl::OkStatus();
}

// The item fields a draw carries with items chosen at entry: the position's
// ask and the item's units left after it.
absl::Status CheckDrawItem(const CampaignState& c, const pb::Event& e) {
  const auto& d = e.draw_resolved();
  if (c.items() == 0 || c.on_admission()) {
    if (!d.item_id().empty() || d.quantity() != 0) return Broken(e, "a draw naming an item");
    return absl::OkStatus();
  }
  const size_t item = c.ItemAt(d.position());
  if (d.item_id() != c.snap.config().items(static_cast<int>(item)).id() ||
      d.quantity() != c.QuantityAt(d.position()))
    return Broken(e, "a draw for another item or quantity than the entry asked for");
  if (d.item_stock_left() != c.ItemStockLeft(item)) return Broken(e, "item_stock_left disagrees");
  return absl::OkStatus();
}

// A waitlisted draw: rank r of the item's waitlist holds the position.
absl::Status Waitlist(CampaignState& c, const pb::Event& e) {
  const auto& d = e.draw_resolved();
  std::vector<uint64_t>& list =
      c.items() == 0 ? c.waitlist : c.item_waitlists[c.ItemAt(d.position())];
  if (d.waitlist_rank() == 0 || d.waitlist_rank() > c.snap.last_position())
    return Broken(e, "waitlist rank out of range");
  if (list.size() < d.waitlist_rank()) list.resize(d.waitlist_rank(), 0);
  if (list[d.waitlist_rank() - 1] != 0) return Broken(e, "waitlist rank given twice");
  list[d.waitlist_rank() - 1] = d.position();
  c.waitlist_dirty = true;
  c.snap.set_waitlisted(c.snap.waitlisted() + 1);
  if (c.items() > 0) {
    pb::ItemCounters* n = c.snap.mutable_items(static_cast<int>(c.ItemAt(d.position())));
    n->set_waitlisted(n->waitlisted() + 1);
  }
  return absl::OkStatus();
}

absl::Status FoldDrawResolved(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& d = e.draw_resolved();
  if (c.at_close()) {
    // The at-close draw: no admission; every position is drawn in order at
    // the close.
    if (!snap.closed()) return Broken(e, "an at-close draw before the close");
    if (d.position() != snap.serving() + 1 || d.position() > snap.last_position())
      return Broken(e, "at-close draw out of position order");
    snap.set_serving(d.position());
  } else if (d.position() == 0 || d.position() != snap.serving()) {
    return Broken(e, "draw of a position that was not just admitted");
  }
  if (c.status[d.position() - 1] != EntryStatus::kQueued) return Broken(e, "drawn twice");
  if (c.user_at(d.position()) != d.user_id()) return Broken(e, "drew the wrong user");
  bool under = UnderThreshold(d.draw_value(), snap.config().win_bps());
  const size_t item = c.ItemAt(d.position());
  const uint32_t units = c.QuantityAt(d.position());
  EntryStatus status;
  switch (d.outcome()) {
    case pb::OUTCOME_WON:
      if (!under) return Broken(e, "WON with a draw value over the threshold");
      if (c.on_admission()) return Broken(e, "WON at admission where the admitted choose");
      if (c.ItemStockLeft(item) < units) return Broken(e, "WON with no stock left");
      if (absl::Status st = TakeUnits(c, e, item, units); !st.ok()) return st;
      snap.set_won(snap.won() + 1);
      status = EntryStatus::kWon;
      if (absl::Status st = TakeHold(c, e, d.position(), d.hold_until_ms()); !st.ok()) return st;
      break;
    case pb::OUTCOME_SOLD_OUT:
      if (c.at_close()) return Broken(e, "SOLD_OUT in an at-close draw");
      if (!under) return Broken(e, "SOLD_OUT with a draw value over the threshold");
      if (c.on_admission() ? snap.stock_left() != 0 : c.ItemStockLeft(item) >= units)
        return Broken(e, "SOLD_OUT while stock remained");
      snap.set_sold_out(snap.sold_out() + 1);
      status = EntryStatus::kSoldOut;
      break;
    case pb::OUTCOME_ADMITTED: {
      if (!c.on_admission()) return Broken(e, "ADMITTED where the admitted do not choose");
      if (!under) return Broken(e, "ADMITTED with a draw value over the threshold");
      if (snap.stock_left() == 0) return Broken(e, "ADMITTED with no stock left");
      const uint64_t until = e.time_ms() + uint64_t{snap.config().choose_s()} * 1000;
      if (d.choose_until_ms() != until) return Broken(e, "choice deadline is not time + choose_s");
      c.choose_until.emplace(d.position(), until);
      c.choose_order.emplace(until, d.position());
      snap.set_admitted_choosing(snap.admitted_choosing() + 1);
      status = EntryStatus::kAdmitted;
      break;
    }
    case pb::OUTCOME_WAITLISTED:
      if (!c.at_close()) return Broken(e, "WAITLISTED outside an at-close draw");
      if (!under) return Broken(e, "WAITLISTED with a draw value over the threshold");
      if (absl::Status st = Waitlist(c, e); !st.ok()) return st;
      status = EntryStatus::kWaitlisted;
      break;
    case pb::OUTCOME_LOST:
      if (under) return Broken(e, "LOST with a draw value under the threshold");
      snap.set_lost(snap.lost() + 1);
      status = EntryStatus::kLost;
      break;
    default:
      return Broken(e, "draw without an outcome");
  }
  if (d.outcome() != pb::OUTCOME_WON && d.hold_until_ms() != 0)
    return Broken(e, "a hold on a draw that did not win");
  if (d.outcome() != pb::OUTCOME_ADMITTED && d.choose_until_ms() != 0)
    return Broken(e, "a choice deadline on a draw that did not admit");
  if (d.stock_left() != snap.stock_left()) return Broken(e, "stock_left disagrees");
  if (absl::Status st = CheckDrawItem(c, e); !st.ok()) return st;
  c.status[d.position() - 1] = status;
  c.dirty_positions.push_back(d.position());
  return CheckStockBalance(c, e, item);
}

// CHOOSE_ON_ADMISSION: an admitted user's choice, within its deadline.
absl::Status FoldItemChosen(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& x = e.item_chosen();
  if (!c.on_admission()) return Broken(e, "a choice where the admitted do not choose");
  if (x.position() == 0 || x.position() > snap.last_position() ||
      c.user_at(x.position()) != x.user_id())
    return Broken(e, "a choice by an entry that does not exist");
  if (c.status[x.position() - 1] != EntryStatus::kAdmitted)
    return Broken(e, "a choice by an entry that is not admitted to choose");
  auto until = c.choose_until.find(x.position());
  if (until == c.choose_until.end() || e.time_ms() >= until->second)
    return Broken(e, "a choice after its deadline");
  const int item = c.ItemIndex(x.item_id());
  if (item < 0) return Broken(e, "a choice of an unknown item");
  if (x.quantity() == 0 || x.quantity() > c.QuantityMax(static_cast<size_t>(item)))
    return Broken(e, "a choice of more units than one user may take");
  if (absl::Status st = TakeUnits(c, e, static_cast<size_t>(item), x.quantity()); !st.ok())
    return st;
  if (x.item_stock_left() != c.ItemStockLeft(static_cast<size_t>(item)) ||
      x.stock_left() != snap.stock_left())
    return Broken(e, "stock_left disagrees");
  c.choose_order.erase({until->second, x.position()});
  c.choose_until.erase(until);
  c.item_of[x.position() - 1] = static_cast<uint8_t>(item + 1);
  c.quantity_of[x.position() - 1] = static_cast<uint8_t>(x.quantity());
  snap.set_admitted_choosing(snap.admitted_choosing() - 1);
  snap.set_chosen(snap.chosen() + 1);
  snap.set_won(snap.won() + 1);
  c.status[x.position() - 1] = EntryStatus::kWon;
  c.dirty_positions.push_back(x.position());
  if (absl::Status st = TakeHold(c, e, x.position(), x.hold_until_ms()); !st.ok()) return st;
  return CheckStockBalance(c, e, static_cast<size_t>(item));
}

absl::Status FoldChoiceExpired(CampaignState& c, const pb::Event& e) {
  const auto& x = e.choice_expired();
  auto until = c.choose_until.find(x.position());
  if (until == c.choose_until.end() || c.status[x.position() - 1] != EntryStatus::kAdmitted ||
      c.user_at(x.position()) != x.user_id())
    return Broken(e, "a choice expiry of an entry not admitted to choose");
  if (e.time_ms() < until->second || x.choose_until_ms() != until->second)
    return Broken(e, "a choice expired before its deadline");
  if (c.choose_order.begin()->second != x.position())
    return Broken(e, "choice expiry out of deadline order");
  c.choose_order.erase(c.choose_order.begin());
  c.choose_until.erase(until);
  c.status[x.position() - 1] = EntryStatus::kChoiceExpired;
  c.dirty_positions.push_back(x.position());
  c.snap.set_admitted_choosing(c.snap.admitted_choosing() - 1);
  c.snap.set_choices_expired(c.snap.choices_expired() + 1);
  return absl::OkStatus();
}

absl::Status FoldStockChanged(CampaignState& c, const pb::Event& e) {
  if (planted_bug == PlantedBug::kFoldForgetsStockChange) [[unlikely]]
    return absl::OkStatus();
  auto& snap = c.snap;
  const auto& sc = e.stock_changed();
  if (sc.delta() <= 0) return Broken(e, "stock change must be positive");
  const uint64_t delta = static_cast<uint64_t>(sc.delta());
  snap.set_stock_left(snap.stock_left() + delta);
  if (sc.reason() == pb::STOCK_RESTOCK) {
    snap.set_restocked(snap.restocked() + delta);
  } else if (sc.reason() != pb::STOCK_CANCELLATION && sc.reason() != pb::STOCK_HOLD_EXPIRED) {
    return Broken(e, "stock change without a reason");
  }
  if (c.items() > 0) {
    const int item = c.ItemIndex(sc.item_id());
    if (item < 0) return Broken(e, "a stock change of an unknown item");
    pb::ItemCounters* n = snap.mutable_items(item);
    n->set_stock_left(n->stock_left() + delta);
    if (sc.reason() == pb::STOCK_RESTOCK) {
      n->set_restocked(n->restocked() + delta);
    } else {
      n->set_returned(n->returned() + delta);
    }
    if (sc.item_stock_left() != n->stock_left()) return Broken(e, "item_stock_left disagrees");
  } else if (!sc.item_id().empty()) {
    return Broken(e, "a stock change naming an item where there are none");
  }
  if (sc.stock_left() != snap.stock_left()) return Broken(e, "stock_left disagrees");
  return CheckStockBalance(c, e,
                           c.items() > 0 ? static_cast<size_t>(c.ItemIndex(sc.item_id())) : 0);
}

// The standing win at `position` of `user` (a cancel, confirmation or
// expiry's subject); its hold, if any, must still be live at the event's time
// unless `expiring`.
absl::Status CheckStandingWin(const CampaignState& c, const pb::Event& e, uint64_t position,
                              const std::string& user, bool expiring) {
  if (position == 0 || position > c.snap.last_position() || c.user_at(position) != user)
    return Broken(e, "an entry that does not exist");
  if (c.status[position - 1] != EntryStatus::kWon)
    return Broken(e, "an entry that is not a standing win");
  const uint64_t hold = c.HoldOf(position);
  if (expiring) {
    if (hold == 0) return Broken(e, "expiry of a win that holds nothing");
    if (e.time_ms() < hold) return Broken(e, "expiry before the hold's deadline");
    if (c.hold_order.begin()->second != position) return Broken(e, "expiry out of deadline order");
  } else if (hold != 0 && e.time_ms() >= hold) {
    return Broken(e, "a hold used after its deadline");
  }
  return absl::OkStatus();
}

absl::Status FoldEntryCancelled(CampaignState& c, const pb::Event& e) {
  const auto& x = e.entry_cancelled();
  if (absl::Status st = CheckStandingWin(c, e, x.position(), x.user_id(), false); !st.ok())
    return st;
  c.DropHold(x.position());
  c.status[x.position() - 1] = EntryStatus::kCancelled;
  c.dirty_positions.push_back(x.position());
  c.snap.set_cancelled(c.snap.cancelled() + 1);
  return absl::OkStatus();
}

absl::Status FoldEntryConfirmed(CampaignState& c, const pb::Event& e) {
  const auto& x = e.entry_confirmed();
  if (absl::Status st = CheckStandingWin(c, e, x.position(), x.user_id(), false); !st.ok())
    return st;
  if (x.pass_id() != PassId(c.snap.campaign_id(), x.position()))
    return Broken(e, "confirmation names another entry's pass");
  c.DropHold(x.position());
  c.status[x.position() - 1] = EntryStatus::kConfirmed;
  c.dirty_positions.push_back(x.position());
  c.snap.set_confirmed(c.snap.confirmed() + 1);
  if (c.items() > 0) {
    pb::ItemCounters* n = c.snap.mutable_items(static_cast<int>(c.ItemAt(x.position())));
    n->set_confirmed(n->confirmed() + c.QuantityAt(x.position()));
  }
  return CheckStockBalance(c, e, c.ItemAt(x.position()));
}

absl::Status FoldHoldExpired(CampaignState& c, const pb::Event& e) {
  const auto& x = e.hold_expired();
  if (absl::Status st = CheckStandingWin(c, e, x.position(), x.user_id(), true); !st.ok())
    return st;
  if (x.hold_until_ms() != c.HoldOf(x.position()))
    return Broken(e, "expiry names another deadline");
  c.DropHold(x.position());
  c.status[x.position() - 1] = EntryStatus::kExpired;
  c.dirty_positions.push_back(x.position());
  c.snap.set_expired(c.snap.expired() + 1);
  return absl::OkStatus();
}

absl::Status FoldEntryPromoted(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& p = e.entry_promoted();
  if (!c.at_close() || !snap.closed())
    return Broken(e, "a promotion outside a drawn at-close campaign");
  if (p.position() == 0 || p.position() > snap.last_position())
    return Broken(e, "promotion of an entry that does not exist");
  const size_t item = c.ItemAt(p.position());
  const std::vector<uint64_t>& list = c.WaitlistOf(item);
  const uint64_t head = c.PromotedOf(item);
  if (head >= list.size() || p.waitlist_rank() != head + 1 || list[head] != p.position())
    return Broken(e, absl::StrCat("promotion of position ", p.position(),
                                  " is not the head of the waitlist"));
  if (c.user_at(p.position()) != p.user_id()) return Broken(e, "promoted the wrong user");
  if (c.status[p.position() - 1] != EntryStatus::kWaitlisted)
    return Broken(e, "promoted an entry that is not waitlisted");
  if (c.items() > 0 && (p.item_id() != snap.config().items(static_cast<int>(item)).id() ||
                        p.quantity() != c.QuantityAt(p.position())))
    return Broken(e, "a promotion for another item or quantity than the entry asked for");
  if (absl::Status st = TakeUnits(c, e, item, c.QuantityAt(p.position())); !st.ok()) return st;
  snap.set_won(snap.won() + 1);
  snap.set_promoted(snap.promoted() + 1);
  if (c.items() > 0) {
    pb::ItemCounters* n = snap.mutable_items(static_cast<int>(item));
    n->set_promoted(n->promoted() + 1);
    if (p.item_stock_left() != n->stock_left()) return Broken(e, "item_stock_left disagrees");
  }
  if (absl::Status st = TakeHold(c, e, p.position(), p.hold_until_ms()); !st.ok()) return st;
  c.status[p.position() - 1] = EntryStatus::kWon;
  c.dirty_positions.push_back(p.position());
  if (p.stock_left() != snap.stock_left()) return Broken(e, "stock_left disagrees");
  return CheckStockBalance(c, e, item);
}

absl::Status FoldCampaignClosed(CampaignState& c, const pb::Event& e) {
  if (c.snap.closed()) return Broken(e, "closed twice");
  const auto& x = e.campaign_closed();
  if (!x.merkle_root().empty() && x.merkle_leaves() != c.snap.last_position())
    return Broken(e, "the Merkle tree does not cover every position");
  c.snap.set_closed(true);
  c.snap.set_merkle_root(x.merkle_root());
  c.snap.set_merkle_leaves(x.merkle_leaves());
  c.snap.set_entropy_value(x.entropy_value());
  return absl::OkStatus();
}

absl::Status FoldSeedRevealed(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  if (!snap.closed() || snap.revealed()) return Broken(e, "seed revealed out of turn");
  const std::string& seed = e.seed_revealed().seed();
  Hash commitment = Sha256(seed);
  if (seed.size() != c.seed.size() ||
      snap.seed_commitment() !=
          std::string_view(reinterpret_cast<const char*>(commitment.data()), 32))
    return Broken(e, "revealed seed does not match the commitment");
  std::copy(seed.begin(), seed.end(), c.seed.begin());
  snap.set_revealed(true);
  snap.set_revealed_seed(seed);
  return absl::OkStatus();
}

// One function per event kind; each checks its own invariants.
absl::Status FoldOnCampaign(CampaignState& c, const pb::Event& e) {
  c.dirty = true;
  switch (e.body_case()) {
    case pb::Event::kEntryPrequeued:
      return FoldEntryPrequeued(c, e);
    case pb::Event::kQueueEntered:
      return FoldQueueEntered(c, e);
    case pb::Event::kEntryRejected:
      return FoldEntryRejected(c, e);
    case pb::Event::kEntryAdmitted:
      return FoldEntryAdmitted(c, e);
    case pb::Event::kDrawResolved:
      return FoldDrawResolved(c, e);
    case pb::Event::kStockChanged:
      return FoldStockChanged(c, e);
    case pb::Event::kEntryCancelled:
      return FoldEntryCancelled(c, e);
    case pb::Event::kCampaignClosed:
      return FoldCampaignClosed(c, e);
    case pb::Event::kSeedRevealed:
      return FoldSeedRevealed(c, e);
    case pb::Event::kEntryConfirmed:
      return FoldEntryConfirmed(c, e);
    case pb::Event::kHoldExpired:
      return FoldHoldExpired(c, e);
    case pb::Event::kEntryPromoted:
      return FoldEntryPromoted(c, e);
    case pb::Event::kItemChosen:
      return FoldItemChosen(c, e);
    case pb::Event::kChoiceExpired:
      return FoldChoiceExpired(c, e);
    case pb::Event::kAdmissionPaused:
      c.snap.set_paused(true);
      return absl::OkStatus();
    case pb::Event::kAdmissionResumed:
      c.snap.set_paused(false);
      c.snap.set_clock_ms(std::max(c.snap.clock_ms(), e.time_ms()));
      return absl::OkStatus();
    default:
      return Broken(e, "unexpected event type");
  }
}

}  // namespace

absl::Status Fold(EngineState* s, const EngineConfig& config, const pb::Event& e,
                  std::string_view encoded) {
  if (e.sequence() != s->next_sequence)
    return absl::InternalError(
        absl::StrCat("folding sequence ", e.sequence(), " but expected ", s->next_sequence));
  absl::Status st;
  if (e.body_case() == pb::Event::kCampaignCreated) {
    st = FoldCreated(s, config, e);
  } else if (CampaignState* c = s->Find(e.campaign_id())) {
    st = FoldOnCampaign(*c, e);
  } else if (e.body_case() != pb::Event::kEntryRejected) {
    st = Broken(e, "event for a campaign that does not exist");
  }
  if (!st.ok()) return st;
  if (e.has_idempotency()) {
    const pb::IdempotencyKey& k = e.idempotency();
    s->idempotency.Remember(
        {k.actor(), e.campaign_id(), k.key(), k.request_hash(), e.command_offset(), e.time_ms()});
  }
  ChainDigest(&s->digest, &s->answer, e.command_events(), encoded);
  ++s->next_sequence;
  return absl::OkStatus();
}

void ChainDigest(Hash* digest, DigestAnswer* answer, uint32_t command_events,
                 std::string_view encoded) {
  if (answer->left == 0) {  // the first event of an answer
    answer->left = command_events == 0 ? 1 : command_events;
    SHA256_Init(&answer->ctx);
    SHA256_Update(&answer->ctx, digest->data(), digest->size());
  }
  const uint32_t n = static_cast<uint32_t>(encoded.size());
  const uint8_t len[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                          static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  SHA256_Update(&answer->ctx, len, sizeof len);
  SHA256_Update(&answer->ctx, encoded.data(), encoded.size());
  if (--answer->left == 0) SHA256_Final(digest->data(), &answer->ctx);
}

namespace {

// Each waitlist (one, or one per item) against its counters and statuses.
absl::Status CheckWaitlists(const CampaignState& c, uint64_t waiting) {
  const auto& snap = c.snap;
  const size_t lists = std::max<size_t>(1, c.items());
  uint64_t total = 0;
  for (size_t i = 0; i < lists; ++i) {
    const std::vector<uint64_t>& list = c.WaitlistOf(i);
    const uint64_t promoted = c.PromotedOf(i);
    if (promoted > list.size()) return absl::InternalError("more promoted than waitlisted");
    if (c.items() > 0 && list.size() != snap.items(static_cast<int>(i)).waitlisted())
      return absl::InternalError("an item's waitlist disagrees with its counter");
    for (uint64_t r = 0; r < list.size(); ++r) {
      const uint64_t p = list[r];
      if (p == 0 || p > snap.last_position()) return absl::InternalError("a hole in the waitlist");
      if (c.ItemAt(p) != i && c.items() > 0)
        return absl::InternalError("a waitlist holds another item's entry");
      if ((r >= promoted) != (c.status[p - 1] == EntryStatus::kWaitlisted))
        return absl::InternalError("the waitlist's head disagrees with the entries' statuses");
    }
    total += list.size();
  }
  if (total != snap.waitlisted() || waiting != snap.waitlisted() - snap.promoted())
    return absl::InternalError("the waitlist disagrees with its counters");
  return absl::OkStatus();
}

// Units out per item, from the entries, against the stock.
absl::Status CheckUnits(const CampaignState& c, uint64_t won, uint64_t cancelled,
                        uint64_t expired) {
  const auto& snap = c.snap;
  if (c.items() == 0) {
    if (won - cancelled - expired > snap.config().stock() + snap.restocked())
      return absl::InternalError("wins - cancellations - expiries exceed stock + restocks");
    if (snap.stock_left() + won - cancelled - expired != snap.config().stock() + snap.restocked())
      return absl::InternalError("stock does not balance");
    return absl::OkStatus();
  }
  if (c.item_of.size() != snap.last_position() || c.quantity_of.size() != snap.last_position())
    return absl::InternalError("item asks are not one per position");
  std::vector<uint64_t> out(c.items(), 0);
  for (uint64_t p = 1; p <= snap.last_position(); ++p) {
    const EntryStatus st = c.status[p - 1];
    if (st == EntryStatus::kWon || st == EntryStatus::kConfirmed)
      out[c.ItemAt(p)] += c.QuantityAt(p);
  }
  uint64_t left = 0;
  for (size_t i = 0; i < c.items(); ++i) {
    const pb::ItemCounters& n = snap.items(static_cast<int>(i));
    const uint64_t stock = snap.config().items(static_cast<int>(i)).stock() + n.restocked();
    if (out[i] != n.taken() - n.returned() || n.stock_left() + out[i] != stock)
      return absl::InternalError(absl::StrCat(
          "item ", snap.config().items(static_cast<int>(i)).id(), ": units do not balance"));
    left += n.stock_left();
  }
  if (left != snap.stock_left()) return absl::InternalError("the items' stock does not add up");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckInvariants(const CampaignState& c) {
  const auto& snap = c.snap;
  auto fail = [&](absl::string_view what) {
    return absl::InternalError(absl::StrCat("campaign ", snap.campaign_id(), ": ", what));
  };
  if (c.by_position.size() != snap.last_position() || c.status.size() != snap.last_position())
    return fail("positions are not gapless from 1");
  if (snap.serving() > snap.last_position()) return fail("serving counter passes last position");
  if (c.position_of.size() != snap.last_position() + snap.prequeued())
    return fail("users and entries disagree (one entry per user)");
  if (c.entered_ms.size() != snap.last_position())
    return fail("entry times are not one per position");
  uint64_t won = 0, lost = 0, sold = 0, cancelled = 0, confirmed = 0, expired = 0, waiting = 0,
           choosing = 0, choice_expired = 0;
  for (uint64_t p = 1; p <= snap.last_position(); ++p) {
    auto it = c.position_of.find(c.user_at(p));
    if (it == c.position_of.end() || it->second != p) return fail("user index disagrees");
    EntryStatus st = c.status[p - 1];
    if ((p <= snap.serving()) == (st == EntryStatus::kQueued))
      return fail("drawn positions and serving counter disagree");
    won += TookUnit(st);
    lost += st == EntryStatus::kLost;
    sold += st == EntryStatus::kSoldOut;
    cancelled += st == EntryStatus::kCancelled;
    confirmed += st == EntryStatus::kConfirmed;
    expired += st == EntryStatus::kExpired;
    waiting += st == EntryStatus::kWaitlisted;
    choosing += st == EntryStatus::kAdmitted;
    choice_expired += st == EntryStatus::kChoiceExpired;
    if ((c.HoldOf(p) != 0) && st != EntryStatus::kWon)
      return fail("a hold on an entry that is not won");
    if (c.choose_until.contains(p) != (st == EntryStatus::kAdmitted))
      return fail("a choice deadline without an admission to choose, or the reverse");
  }
  if (won != snap.won() || lost != snap.lost() || sold != snap.sold_out() ||
      cancelled != snap.cancelled() || confirmed != snap.confirmed() || expired != snap.expired() ||
      choosing != snap.admitted_choosing() || choice_expired != snap.choices_expired())
    return fail("outcome counters disagree with entries");
  if (c.hold_until.size() != c.hold_order.size() || c.choose_until.size() != c.choose_order.size())
    return fail("the two deadline indexes disagree");
  if (absl::Status st = CheckWaitlists(c, waiting); !st.ok()) return fail(st.message());
  if (absl::Status st = CheckUnits(c, won, cancelled, expired); !st.ok()) return fail(st.message());
  if (sold > 0 && snap.config().win_bps() == 0) return fail("SOLD_OUT with win_bps 0");
  return absl::OkStatus();
}

Hash CombinedDigest(const std::vector<Hash>& partition_digests) {
  std::string all;
  for (const Hash& h : partition_digests) all.append(reinterpret_cast<const char*>(h.data()), 32);
  return Sha256(all);
}

}  // namespace tl
