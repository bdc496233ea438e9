// What a batch of ledger events changes, per campaign: the one summary both
// read models (Redis, PostgreSQL) write from, so they cannot disagree on what
// an event means. Built in ledger order; later events win.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ticketledger/v1/events.pb.h"

namespace tl::proj {

namespace pb = ::ticketledger::v1;

// One position as this batch saw it. A field this batch did not set is 0 /
// empty, so a row from a later batch completes the stored one instead of
// erasing it (the PostgreSQL UPDATE keeps what a NULL does not replace).
struct EntryRow {
  uint64_t position = 0;
  std::string user;
  uint64_t entered_sequence = 0;  // 0: entered before this batch
  // "" (queued), won, lost, sold_out, cancelled, confirmed, expired,
  // waitlisted: set by the event that last changed it (a draw, a
  // cancellation, a confirmation, an expiry, a promotion), with that
  // event's time and sequence.
  std::string outcome;
  bool drawn = false;  // the draw is in this batch (draw_value is set)
  uint64_t draw_value = 0;
  uint64_t decided_at_ms = 0;
  uint64_t decided_sequence = 0;
  uint64_t entered_at_ms = 0;
  // The hold deadline (unix ms) of a held win: from its draw or promotion,
  // or from its expiry.
  uint64_t hold_until_ms = 0;
  uint64_t waitlist_rank = 0;  // from a WAITLISTED draw or a promotion
  uint64_t confirmed_at_ms = 0;
  std::string pass_id;  // the confirmation's
  uint64_t promoted_at_ms = 0;
  // Items (issue 15): the item and units asked for (QueueEntered, at entry)
  // or taken (DrawResolved, ItemChosen, EntryPromoted); "" / 0 when this
  // batch's events did not name them. choose_until_ms: an ADMITTED draw's
  // deadline, or a ChoiceExpired's.
  std::string item_id;
  uint32_t quantity = 0;
  uint64_t choose_until_ms = 0;
};

// One item's changes in a batch (units; stock_left absolute, the rest
// increments). Per-item confirmations are counted by the sinks from the
// entries they store (EntryConfirmed names no item): `confirmed_positions`.
struct ItemDelta {
  std::optional<uint64_t> stock_left;
  int64_t taken = 0, returned = 0, restocked = 0, waitlisted = 0, promoted = 0;
};

struct StockRow {
  uint64_t sequence = 0;
  int64_t delta = 0;
  std::string reason;  // restock, cancellation, hold_expired
  uint64_t stock_left = 0;
  uint64_t time_ms = 0;
  std::string item_id;  // with items: the item whose units changed
  uint64_t item_stock_left = 0;
};

struct CampaignDelta {
  std::string id;
  std::optional<pb::CampaignCreated> created;
  uint64_t created_at_ms = 0;
  // Positions entered in this batch (with their outcome if also decided in
  // it), and positions entered earlier whose outcome changed in it.
  std::map<uint64_t, EntryRow> entered;
  std::map<uint64_t, EntryRow> changed;
  std::vector<StockRow> stock;
  std::vector<std::string> prequeued;                           // users now in the pre-queue
  std::vector<std::pair<std::string, std::string>> rejections;  // user, reason (users only)
  // Counter increments. `won` counts promotions too, as the engine does.
  int64_t won = 0, lost = 0, sold_out = 0, cancelled = 0, restocked = 0, rejected = 0;
  int64_t prequeued_delta = 0;
  int64_t confirmed = 0, expired = 0, waitlisted = 0, promoted = 0;
  // Absolute values, when this batch set them.
  std::optional<uint64_t> entries, serving, stock_left;
  std::optional<bool> closed, paused;
  std::optional<std::string> seed;  // revealed
  // CampaignClosed's receipt and entropy, when it carried them (issue 14).
  std::optional<std::string> merkle_root;
  std::optional<uint64_t> merkle_leaves;
  std::optional<std::string> entropy_value;
  // Items (issue 15), by item id; admissions to choose, choices, expiries.
  std::map<std::string, ItemDelta> items;
  int64_t admitted_choosing = 0, chosen = 0, choices_expired = 0;
  // Positions confirmed in this batch (their item and units are the entry's).
  std::vector<uint64_t> confirmed_positions;
  uint64_t last_sequence = 0;
};

// Folds `events` (one partition's, in order) into per-campaign deltas.
std::map<std::string, CampaignDelta> Summarize(const std::vector<pb::Event>& events);

}  // namespace tl::proj
