// What the api reads from the read models (Redis, PostgreSQL) when ticketd is
// given them: an entry's status, a campaign's ranking, its results. The api
// uses an answer only if the store has applied the campaign's ledger
// partition at least as far as the api's own fold (`min_sequence`), so a
// client never reads an older answer from a store than the api itself holds
// (read-your-writes); otherwise, or when a store is away, it answers from its
// fold. The HTTP shapes are built in one place (server.cc) from these views.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace tl::api {

struct EntryView {
  // "" (no entry), queued, won, lost, sold_out, cancelled, prequeued,
  // rejected; with holds and the at-close draw (issue 14) also confirmed (a
  // win the shop confirmed: sold), expired (a held win not confirmed in
  // time) and waitlisted (an at-close draw's eligible entry beyond the stock;
  // a promoted one is won).
  std::string status;
  std::string reject_reason;  // RejectReason name, for "rejected"
  uint64_t position = 0, serving = 0, opens_at_ms = 0;
  uint32_t rate = 0;
  bool paused = false;
  // won: the hold deadline (unix ms) by which the shop must confirm it; 0
  // for a win that is final and for every other status.
  uint64_t hold_until_ms = 0;
  // waitlisted: the current place on the waitlist, from 1 (the next to be
  // promoted): the rank drawn at close minus the promotions since.
  uint64_t waitlist_rank = 0;
  // Items (issue 15): the item and units the entry asked for (at entry) or
  // took (a choice); "" / 0 without items or before a choice. admitted: the
  // deadline (unix ms) to choose by; 0 for every other status.
  std::string item_id;
  uint32_t quantity = 0;
  uint64_t choose_until_ms = 0;
};

// A campaign's items, in config order, with their counters (units).
struct ItemsView {
  struct Item {
    std::string id, label;
    uint64_t stock = 0, stock_left = 0, taken = 0, returned = 0, restocked = 0, confirmed = 0,
             waitlisted = 0, promoted = 0;
    uint32_t per_user_max = 0;  // 0: the campaign's
  };
  std::vector<Item> items;
  uint64_t admitted_choosing = 0, chosen = 0, choices_expired = 0;
};

// (position, user, status or outcome)
using PositionRow = std::tuple<uint64_t, std::string, std::string>;

struct RankingView {
  uint64_t serving = 0, total = 0;
  std::vector<PositionRow> items;
};

struct ResultsView {
  std::vector<PositionRow> items;
  std::optional<uint64_t> next_cursor;
};

// An at-close campaign's waitlist, in waitlist order: the entries still
// waitlisted (promoted ones have left it).
struct WaitlistView {
  struct Item {
    uint64_t rank = 0;        // the current place, from 1 (the next to be promoted)
    uint64_t drawn_rank = 0;  // the place drawn at close (DrawResolved.waitlist_rank)
    uint64_t position = 0;
    std::string user;
  };
  uint64_t promoted = 0;  // promotions so far: rank = drawn_rank - promoted
  std::vector<Item> items;
  // The drawn_rank to continue after, when more may follow.
  std::optional<uint64_t> next_cursor;
};

// The FailedPrecondition of a store that has applied its partition only up
// to `applied` while the caller's fold holds `want`.
inline absl::Status StoreBehind(const char* store, uint64_t applied, uint64_t want) {
  return absl::FailedPreconditionError(
      absl::StrCat(store, " has applied up to sequence ", applied, ", the api's fold ", want));
}

class ReadModel {
 public:
  virtual ~ReadModel() = default;
  // FailedPrecondition: the store is behind `min_sequence`; Unavailable: it
  // is away. Either way the caller answers from its own fold.
  virtual absl::StatusOr<EntryView> Entry(int partition, uint64_t min_sequence,
                                          const std::string& campaign, const std::string& user) = 0;
  virtual absl::StatusOr<RankingView> Ranking(int partition, uint64_t min_sequence,
                                              const std::string& campaign, uint64_t offset,
                                              uint64_t limit) = 0;
  // `outcome` empty: every decided entry; `item` empty: of every item.
  virtual absl::StatusOr<ResultsView> Results(int partition, uint64_t min_sequence,
                                              const std::string& campaign, uint64_t cursor,
                                              uint64_t limit, const std::string& outcome,
                                              const std::string& item = "") = 0;
  // The campaign's items and their counters (none for a campaign without
  // items). Unimplemented: this read model does not keep them.
  virtual absl::StatusOr<ItemsView> Items(int /*partition*/, uint64_t /*min_sequence*/,
                                          const std::string& /*campaign*/) {
    return absl::UnimplementedError("no items in this read model");
  }
  // The waitlist after drawn rank `cursor` (0: from its head), at most
  // `limit` entries; with items, `item`'s (each item has its own).
  // Unimplemented: this read model does not keep it.
  virtual absl::StatusOr<WaitlistView> Waitlist(int /*partition*/, uint64_t /*min_sequence*/,
                                                const std::string& /*campaign*/,
                                                uint64_t /*cursor*/, uint64_t /*limit*/,
                                                const std::string& /*item*/ = "") {
    return absl::UnimplementedError("no waitlist in this read model");
  }
  // Which store answers what, for metrics: "redis", "postgres".
  virtual const char* entry_source() const = 0;
  virtual const char* results_source() const = 0;
};

}  // namespace tl::api
