// Token buckets keyed by a string (a user, a client address). Thread-safe.
// The table is bounded: when it reaches max_keys, full buckets (idle keys)
// are dropped, and if none are, new keys are refused (fail closed).
#pragma once

#include <chrono>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace tl::api {

class RateLimiter {
 public:
  // rate_per_s == 0 disables the limiter.
  RateLimiter(double rate_per_s, double burst, size_t max_keys = 1'000'000);
  // Takes one token; returns 0 when allowed, else seconds until one is there.
  double Take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  const double rate_, burst_;
  const size_t max_keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tl::api
