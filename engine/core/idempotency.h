// The Idempotency-Keys a partition remembers, so that a command is applied
// once however often it is sent: through any api replica, concurrently, or
// after a restart. The table is part of the engine's state and is built only
// by folding the ledger (the first event of an answer to a keyed command
// carries the key, events.proto IdempotencyKey), so a replay rebuilds it
// exactly and decide consults it as it consults everything else.
//
// A key is scoped to (actor, campaign, key). It is remembered for
// kAgeMs of command time after the command that first used it, at most
// kPerActorMax per actor and kMax per partition; past a bound the oldest is
// forgotten first. A forgotten key is a new key again (the api's own cache
// and the engine's one-entry-per-user rule still stand in front of it).
// These bounds decide outcomes: changing one changes what a replay decides.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace tl {

class IdempotencyTable {
 public:
  static constexpr uint64_t kAgeMs = 24ull * 3600 * 1000;
  static constexpr size_t kPerActorMax = 64;
  static constexpr size_t kMax = 1'000'000;

  struct Entry {
    std::string actor;
    std::string campaign_id;
    std::string key;
    std::string request_hash;
    uint64_t command_offset = 0;  // the original command: its events answer every repeat
    uint64_t time_ms = 0;         // the original command's time
  };

  // The remembered entry for (actor, campaign, key) as of command time
  // `now_ms`, or null: never seen, forgotten, or older than kAgeMs.
  const Entry* Find(std::string_view actor, std::string_view campaign, std::string_view key,
                    uint64_t now_ms) const;

  // Remembers the key of an answered command (fold), first forgetting keys
  // older than kAgeMs at the entry's time, then whatever the count bounds
  // push out (oldest first).
  void Remember(Entry e);

  size_t size() const { return by_serial_.size(); }
  // Every entry, oldest first, under its serial.
  const std::map<uint64_t, Entry>& entries() const { return by_serial_; }

  // Persistence (the state store). Restore puts back a stored entry (in any
  // order; serials keep the age order). changes() are the serials added and
  // removed since ClearChanges (called once they are stored).
  void Restore(uint64_t serial, Entry e);
  struct Changes {
    std::vector<uint64_t> added;  // may include serials removed again since
    std::vector<uint64_t> removed;
  };
  const Changes& changes() const { return changes_; }
  void ClearChanges() { changes_ = {}; }

 private:
  static std::string Scope(std::string_view actor, std::string_view campaign, std::string_view key);
  void Insert(uint64_t serial, Entry e);
  void Erase(uint64_t serial);

  std::map<uint64_t, Entry> by_serial_;                              // oldest first
  absl::flat_hash_map<std::string, uint64_t> by_scope_;              // lookups only
  absl::flat_hash_map<std::string, std::deque<uint64_t>> by_actor_;  // oldest first
  uint64_t next_serial_ = 1;
  Changes changes_;
};

}  // namespace tl
