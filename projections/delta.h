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

struct EntryRow {
  uint64_t position = 0;
  std::string user;
  uint64_t entered_sequence = 0;  // 0: entered before this batch
  std::string outcome;            // "" (queued), won, lost, sold_out, cancelled
  uint64_t draw_value = 0;
  uint64_t decided_at_ms = 0;
  uint64_t decided_sequence = 0;
  uint64_t entered_at_ms = 0;
};

struct StockRow {
  uint64_t sequence = 0;
  int64_t delta = 0;
  std::string reason;  // restock, cancellation
  uint64_t stock_left = 0;
  uint64_t time_ms = 0;
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
  // Counter increments.
  int64_t won = 0, lost = 0, sold_out = 0, cancelled = 0, restocked = 0, rejected = 0;
  int64_t prequeued_delta = 0;
  // Absolute values, when this batch set them.
  std::optional<uint64_t> entries, serving, stock_left;
  std::optional<bool> closed, paused;
  std::optional<std::string> seed;  // revealed
  uint64_t last_sequence = 0;
};

// Folds `events` (one partition's, in order) into per-campaign deltas.
std::map<std::string, CampaignDelta> Summarize(const std::vector<pb::Event>& events);

}  // namespace tl::proj
