// The engine's in-memory state: plain structs, folded from ledger events
// (fold.h) and read by decide (decide.h). One EngineState per log partition;
// it is touched by that partition's single writer only, so it has no locks.
//
// Memory per entry is kept small on purpose (a drop holds millions): the
// user id once in an arena with stable addresses, a 4-byte arena index per
// position, a 1-byte status per position and one hash-map slot per user.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/core/check.h"
#include "engine/core/draw.h"
#include "engine/core/schema.h"

namespace tl {

// Per-position status; values are stored in RocksDB, never renumber.
enum class EntryStatus : uint8_t {
  kQueued = 0,
  kWon = 1,
  kLost = 2,
  kSoldOut = 3,
  kCancelled = 4,  // was won, given back
};

// In CampaignState::position_of, a pre-queued user has this bit set and the
// index into `names` below it (no position yet).
inline constexpr uint64_t kPrequeuedBit = uint64_t{1} << 63;

struct CampaignState {
  pb::CampaignSnapshot snap;  // config and counters (persisted as is)
  Drawer drawer;              // keyed with the campaign seed (never persisted)
  Seed seed{};

  // Arena of user ids: a deque never moves its elements, so the string_views
  // in position_of stay valid.
  std::deque<std::string> names;
  std::vector<uint32_t> by_position;  // by_position[p-1] = index into names
  std::vector<EntryStatus> status;    // status[p-1]
  // user -> position; for a pre-queued user, the top bit set and the index
  // into names. absl::string_view keys get absl's hash (this build's
  // absl::string_view is not std::string_view).
  absl::flat_hash_map<absl::string_view, uint64_t> position_of;
  // Pre-queued users in arrival order (indices into names); emptied at opening.
  std::vector<uint32_t> prequeue;
  // Users whose latest request was refused and who hold no entry, with the
  // reason (so a user can be told why). Ordered: persisted and compared.
  std::map<std::string, uint8_t, std::less<>> rejected_users;

  // Persistence bookkeeping (which keys a batch must write); not state.
  bool dirty = false;
  std::vector<uint64_t> dirty_positions;
  size_t prequeue_persisted = 0;
  std::vector<std::string> dirty_rejected;  // rejected_users keys changed since the commit

  const std::string& user_at(uint64_t position) const {
    TL_CHECK_GE(position, 1u);
    TL_CHECK_LE(position, by_position.size());
    return names[by_position[position - 1]];
  }
  uint64_t waiting() const { return snap.last_position() - snap.serving(); }
  uint64_t entries() const { return snap.last_position() + snap.prequeued(); }
};

struct EngineConfig {
  // The secret every campaign seed is derived from (draw.h). Changing it
  // changes every future draw and makes old ledgers unreplayable: treat it
  // like a signing key. Empty in a process that only folds (the api role):
  // it learns each seed from SeedRevealed, checked against the commitment,
  // and cannot decide.
  std::string seed_secret;
};

struct EngineState {
  // Ordered by id, so any iteration is deterministic.
  std::map<std::string, std::unique_ptr<CampaignState>, std::less<>> campaigns;
  uint64_t next_sequence = 1;  // next ledger sequence to fold
  Hash digest{};               // SHA-256 chain over folded events

  CampaignState* Find(std::string_view id) const {
    auto it = campaigns.find(id);
    return it == campaigns.end() ? nullptr : it->second.get();
  }
};

}  // namespace tl
