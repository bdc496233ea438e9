#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace tl::api {

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t max_keys)
    : rate_(rate_per_s), burst_(std::max(1.0, burst)), max_keys_(max_keys) {}

double RateLimiter::Take(const std::string& key) {
  if (rate_ <= 0) return 0;
  auto now = std::chrono::steady_clock::now();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      absl::erase_if(buckets_, [&](const auto& kv) {
        double t =
            kv.second.tokens + std::chrono::duration<double>(now - kv.second.at).count() * rate_;
        return t >= burst_;
      });
      if (buckets_.size() >= max_keys_) return 1.0;
    }
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / rate_;
}

}  // namespace tl::api
