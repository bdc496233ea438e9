// The api's reads from the Redis read model: an entry's status and a
// campaign's ranking, each read with the partition's checkpoint in one
// MULTI/EXEC so a namespace that is behind the api's fold is never used.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/read_model.h"
#include "projections/redis/redis_sink.h"

namespace tl::proj {

class RedisReader {
 public:
  explicit RedisReader(RedisOptions options) : conn_(std::move(options)) {}
  absl::StatusOr<api::EntryView> Entry(int partition, uint64_t min_sequence,
                                       const std::string& campaign, const std::string& user);
  absl::StatusOr<api::RankingView> Ranking(int partition, uint64_t min_sequence,
                                           const std::string& campaign, uint64_t offset,
                                           uint64_t limit);
  // The items hash and the choosing counters (issue 15).
  absl::StatusOr<api::ItemsView> Items(int partition, uint64_t min_sequence,
                                       const std::string& campaign);

 private:
  // The namespace readers use, then `commands` run inside MULTI/EXEC (one
  // consistent read); returns EXEC's replies.
  absl::StatusOr<std::vector<std::unique_ptr<redisReply, void (*)(void*)>>> ReadRedis(
      const std::function<std::vector<std::vector<std::string>>(const std::string& base)>& commands)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  RedisConnection conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tl::proj
