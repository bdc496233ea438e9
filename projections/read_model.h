// The api's reads from the read models (api/read_model.h): entry status and
// rankings from Redis, results from PostgreSQL, each checked against the
// store's own checkpoint so a store that is behind is never used. A store
// not configured answers Unimplemented (the api then uses its fold).
#pragma once

#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "api/read_model.h"
#include "projections/postgres/pg_sink.h"
#include "projections/redis/redis_sink.h"

namespace tl::proj {

class StoreReadModel final : public api::ReadModel {
 public:
  StoreReadModel(std::optional<RedisOptions> redis, std::optional<PgOptions> pg);
  absl::StatusOr<api::EntryView> Entry(int partition, uint64_t min_sequence,
                                       const std::string& campaign,
                                       const std::string& user) override;
  absl::StatusOr<api::RankingView> Ranking(int partition, uint64_t min_sequence,
                                           const std::string& campaign, uint64_t offset,
                                           uint64_t limit) override;
  absl::StatusOr<api::ResultsView> Results(int partition, uint64_t min_sequence,
                                           const std::string& campaign, uint64_t cursor,
                                           uint64_t limit, const std::string& outcome) override;
  const char* entry_source() const override { return "redis"; }
  const char* results_source() const override { return "postgres"; }

 private:
  // The namespace readers use, then `commands` run inside MULTI/EXEC (one
  // consistent read); returns EXEC's replies.
  absl::StatusOr<std::vector<std::unique_ptr<redisReply, void (*)(void*)>>> ReadRedis(
      const std::function<std::vector<std::vector<std::string>>(const std::string& base)>& commands)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(redis_mu_);

  std::optional<RedisOptions> redis_options_;
  absl::Mutex redis_mu_;
  std::unique_ptr<RedisConnection> redis_ ABSL_GUARDED_BY(redis_mu_);
  std::unique_ptr<PgSink> pg_;
};

}  // namespace tl::proj
