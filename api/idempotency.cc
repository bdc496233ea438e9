#include "api/idempotency.h"

namespace tl::api {

IdempotencyCache::Lookup IdempotencyCache::Find(const std::string& key,
                                                const std::string& request_hash,
                                                StoredResponse* out) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Lookup::kMiss;
  if (it->second.request_hash != request_hash) return Lookup::kConflict;
  *out = it->second.response;
  return Lookup::kHit;
}

void IdempotencyCache::Store(const std::string& key, const std::string& request_hash,
                             StoredResponse response) {
  absl::MutexLock lock(&mu_);
  if (entries_.contains(key)) return;
  while (entries_.size() >= max_keys_ && !order_.empty()) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  entries_.emplace(key, Entry{request_hash, std::move(response)});
  order_.push_back(key);
}

}  // namespace tl::api
