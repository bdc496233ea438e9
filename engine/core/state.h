// The engine's in-memory state: plain structs, folded from ledger events
// (fold.h) and read by decide (decide.h). One EngineState per log partition;
// it is touched by that partition's single writer only, so it has no locks.
//
// Memory per entry is kept small on purpose (a drop holds millions): the
// user id once in an arena with stable addresses, a 4-byte arena index per
// position, a 1-byte status per position and one hash-map slot per user.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "engine/core/check.h"
#include "engine/core/draw.h"
#include "engine/core/idempotency.h"
#include "engine/core/schema.h"

namespace tl {

// Per-position status; values are stored in RocksDB, never renumber.
enum class EntryStatus : uint8_t {
  kQueued = 0,
  kWon = 1,
  kLost = 2,
  kSoldOut = 3,
  kCancelled = 4,   // was won, given back
  kConfirmed = 5,   // was won, confirmed by the shop (sold)
  kExpired = 6,     // was won, its hold passed unconfirmed
  kWaitlisted = 7,  // at-close draw: eligible, waiting for a unit (promotion makes it kWon)
};
inline constexpr uint8_t kEntryStatusMax = 7;
// Statuses that took a unit: won, and won then given back, confirmed or expired.
inline bool TookUnit(EntryStatus s) {
  return s == EntryStatus::kWon || s == EntryStatus::kCancelled || s == EntryStatus::kConfirmed ||
         s == EntryStatus::kExpired;
}

// In CampaignState::position_of, a pre-queued user has this bit set and the
// index into `names` below it (no position yet).
inline constexpr uint64_t kPrequeuedBit = uint64_t{1} << 63;

// A key of the user index: the user id in the names arena (stable address)
// and its hash, kept so that growing the index rehashes without reading
// every user id again (a cache miss each; measured at a tenth of decide +
// fold). Lookups take the id as absl::string_view or std::string.
struct UserKey {
  UserKey(const std::string* u, size_t h) : user(u), hash(h) {}
  // Only for ids in the names arena: the key keeps the address.
  explicit UserKey(const std::string& u) : UserKey(&u, Hash(u)) {}
  static size_t Hash(absl::string_view u) { return absl::Hash<absl::string_view>{}(u); }
  const std::string* user;
  size_t hash;
};
struct UserKeyHash {
  using is_transparent = void;
  size_t operator()(const UserKey& k) const { return k.hash; }
  size_t operator()(absl::string_view u) const { return UserKey::Hash(u); }
  size_t operator()(const std::string& u) const { return UserKey::Hash(u); }
};
struct UserKeyEq {
  using is_transparent = void;
  static absl::string_view View(const UserKey& k) { return *k.user; }
  static absl::string_view View(absl::string_view u) { return u; }
  static absl::string_view View(const std::string& u) { return u; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
  bool operator()(const UserKey& a, const UserKey& b) const {
    return a.hash == b.hash && *a.user == *b.user;
  }
};

// Allocates blocks of 2 MiB and more on huge-page boundaries and asks the
// kernel for transparent huge pages there (madvise; a no-op where THP is
// off). The user index of a big drop is hundreds of MB probed at random:
// with 4 KiB pages nearly every probe also missed the TLB, and every page
// was a fault of its own (measured: a quarter of a replay's fold).
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHuge = size_t{2} << 20;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHuge) {
      const size_t rounded = (bytes + kHuge - 1) & ~(kHuge - 1);
      void* p = std::aligned_alloc(kHuge, rounded);
      if (p == nullptr) throw std::bad_alloc();
      madvise(p, rounded, MADV_HUGEPAGE);
      return static_cast<T*>(p);
    }
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) >= kHuge) {
      std::free(p);  // NOLINT: from aligned_alloc
    } else {
      std::allocator<T>().deallocate(p, n);
    }
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

// user id -> a number, keyed by ids in a stable arena (UserKey).
using UserIndex = absl::flat_hash_map<UserKey, uint64_t, UserKeyHash, UserKeyEq,
                                      HugePageAllocator<std::pair<const UserKey, uint64_t>>>;

struct CampaignState {
  pb::CampaignSnapshot snap;  // config and counters (persisted as is)
  Drawer drawer;              // keyed with the campaign seed (never persisted)
  Seed seed{};

  // Arena of user ids: a deque never moves its elements, so the string_views
  // in position_of stay valid.
  std::deque<std::string> names;
  std::vector<uint32_t> by_position;  // by_position[p-1] = index into names
  std::vector<EntryStatus> status;    // status[p-1]
  std::vector<uint64_t> entered_ms;   // entered_ms[p-1]: time of the QueueEntered (Merkle leaf)
  // Live holds (won, unconfirmed, hold_s > 0): position -> deadline, and the
  // same ordered by (deadline, position), the order they expire in.
  std::map<uint64_t, uint64_t> hold_until;
  std::set<std::pair<uint64_t, uint64_t>> hold_order;
  // At-close draw: waitlisted positions in rank order (rank r at [r-1]); the
  // first snap.promoted() have been promoted.
  std::vector<uint64_t> waitlist;
  // user -> position; for a pre-queued user, the top bit set and the index
  // into names. Looked up by absl::string_view or std::string (this build's
  // absl::string_view is not std::string_view).
  UserIndex position_of;
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
  bool waitlist_dirty = false;              // the waitlist was drawn since the commit

  const std::string& user_at(uint64_t position) const {
    TL_CHECK_GE(position, 1u);
    TL_CHECK_LE(position, by_position.size());
    return names[by_position[position - 1]];
  }
  uint64_t waiting() const { return snap.last_position() - snap.serving(); }
  bool at_close() const { return snap.config().draw() == pb::DRAW_AT_CLOSE; }
  // The live hold's deadline of `position`, 0 if it holds none.
  uint64_t HoldOf(uint64_t position) const {
    auto it = hold_until.find(position);
    return it == hold_until.end() ? 0 : it->second;
  }
  void SetHold(uint64_t position, uint64_t deadline) {
    hold_until.emplace(position, deadline);
    hold_order.emplace(deadline, position);
  }
  void DropHold(uint64_t position) {
    auto it = hold_until.find(position);
    if (it == hold_until.end()) return;
    hold_order.erase({it->second, position});
    hold_until.erase(it);
  }
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

// The digest version this build chains (fold.h, LOG_FORMAT.md); stored in
// every checkpoint. Version 1 chained one SHA-256 per event.
inline constexpr uint32_t kDigestVersion = 2;

// A command answer part-way through the digest chain (fold.h ChainDigest).
struct DigestAnswer {
  uint32_t left = 0;  // events of the answer still to come; 0: between answers
  SHA256_CTX ctx{};
};

struct EngineState {
  // Ordered by id, so any iteration is deterministic.
  std::map<std::string, std::unique_ptr<CampaignState>, std::less<>> campaigns;
  uint64_t next_sequence = 1;    // next ledger sequence to fold
  Hash digest{};                 // SHA-256 chain over folded command answers
  DigestAnswer answer;           // the answer being folded, if it is not whole yet
  IdempotencyTable idempotency;  // keys of answered commands (idempotency.h)

  CampaignState* Find(std::string_view id) const {
    auto it = campaigns.find(id);
    return it == campaigns.end() ? nullptr : it->second.get();
  }
};

// Asks the CPU to bring the user-index slots that `user` of `campaign` will
// probe into the cache, a few commands or events before they are decided or
// folded. A hint only (no result depends on it): the index of a big drop is
// hundreds of MB probed at random, and a replay or re-decide otherwise waits
// on one cache miss per new user.
inline void PrefetchUser(const EngineState& s, std::string_view campaign, const std::string& user) {
  if (const CampaignState* c = s.Find(campaign)) c->position_of.prefetch(user);
}
// How far ahead to prefetch: enough to cover a miss, few enough to stay cached.
inline constexpr size_t kPrefetchAhead = 8;

}  // namespace tl
