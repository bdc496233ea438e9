// Idempotency-Key support for POSTs: the first answer for (principal, key) is
// kept with a hash of the request; a retry with the same request gets the
// same answer, a reuse with a different request is refused (422). Bounded:
// the oldest keys are forgotten first. Held in memory, so a restart forgets
// keys; the engine still refuses a second entry by the same user.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace tl::api {

struct StoredResponse {
  int status = 0;
  std::string body;
};

class IdempotencyCache {
 public:
  explicit IdempotencyCache(size_t max_keys) : max_keys_(max_keys) {}

  enum class Lookup { kMiss, kHit, kConflict };
  Lookup Find(const std::string& key, const std::string& request_hash, StoredResponse* out);
  void Store(const std::string& key, const std::string& request_hash, StoredResponse response);

 private:
  struct Entry {
    std::string request_hash;
    StoredResponse response;
  };
  const size_t max_keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tl::api
