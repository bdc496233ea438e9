#include "engine/core/idempotency.h"

#include <algorithm>

#include "engine/core/check.h"

namespace tl {

std::string IdempotencyTable::Scope(std::string_view actor, std::string_view campaign,
                                    std::string_view key) {
  // Neither a user id nor a campaign id nor a key contains NUL.
  std::string scope;
  scope.reserve(actor.size() + campaign.size() + key.size() + 2);
  scope.append(actor).push_back('\0');
  scope.append(campaign).push_back('\0');
  scope.append(key);
  return scope;
}

const IdempotencyTable::Entry* IdempotencyTable::Find(std::string_view actor,
                                                      std::string_view campaign,
                                                      std::string_view key, uint64_t now_ms) const {
  auto it = by_scope_.find(Scope(actor, campaign, key));
  if (it == by_scope_.end()) return nullptr;
  const Entry& e = by_serial_.at(it->second);
  if (e.time_ms + kAgeMs < now_ms) return nullptr;
  return &e;
}

void IdempotencyTable::Remember(Entry e) {
  while (!by_serial_.empty() && by_serial_.begin()->second.time_ms + kAgeMs < e.time_ms)
    Erase(by_serial_.begin()->first);
  // A key seen again after it aged out starts over.
  if (auto it = by_scope_.find(Scope(e.actor, e.campaign_id, e.key)); it != by_scope_.end())
    Erase(it->second);
  if (auto it = by_actor_.find(e.actor); it != by_actor_.end() && it->second.size() >= kPerActorMax)
    Erase(it->second.front());
  const uint64_t serial = next_serial_;
  Insert(serial, std::move(e));
  changes_.added.push_back(serial);
  while (by_serial_.size() > kMax) Erase(by_serial_.begin()->first);
  TL_CHECK_LE(by_serial_.size(), kMax);
  TL_CHECK_EQ(by_scope_.size(), by_serial_.size());
}

void IdempotencyTable::Restore(uint64_t serial, Entry e) { Insert(serial, std::move(e)); }

void IdempotencyTable::Insert(uint64_t serial, Entry e) {
  TL_CHECK(by_serial_.find(serial) == by_serial_.end());
  std::deque<uint64_t>& mine = by_actor_[e.actor];
  // Serials are given in increasing order, except when restoring.
  mine.insert(std::upper_bound(mine.begin(), mine.end(), serial), serial);
  by_scope_[Scope(e.actor, e.campaign_id, e.key)] = serial;
  by_serial_.emplace(serial, std::move(e));
  next_serial_ = std::max(next_serial_, serial + 1);
}

void IdempotencyTable::Erase(uint64_t serial) {
  auto it = by_serial_.find(serial);
  TL_CHECK(it != by_serial_.end());
  const Entry& e = it->second;
  by_scope_.erase(Scope(e.actor, e.campaign_id, e.key));
  auto mine = by_actor_.find(e.actor);
  TL_CHECK(mine != by_actor_.end());
  mine->second.erase(std::find(mine->second.begin(), mine->second.end(), serial));
  if (mine->second.empty()) by_actor_.erase(mine);
  by_serial_.erase(it);
  changes_.removed.push_back(serial);
}

}  // namespace tl
