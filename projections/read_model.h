// The api's reads from the read models (api/read_model.h): entry status and
// rankings from Redis (redis/redis_reader.h), results from PostgreSQL
// (postgres/pg_reader.h), each checked against the store's own checkpoint
// so a store that is behind is never used. A store not configured answers
// Unimplemented (the api then uses its fold).
#pragma once

#include <memory>
#include <optional>

#include "api/read_model.h"
#include "projections/postgres/pg_reader.h"
#include "projections/redis/redis_reader.h"

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
                                           uint64_t limit, const std::string& outcome,
                                           const std::string& item = "") override;
  absl::StatusOr<api::ItemsView> Items(int partition, uint64_t min_sequence,
                                       const std::string& campaign) override;
  absl::StatusOr<api::WaitlistView> Waitlist(int partition, uint64_t min_sequence,
                                             const std::string& campaign, uint64_t cursor,
                                             uint64_t limit, const std::string& item = "") override;
  const char* entry_source() const override { return "redis"; }
  const char* results_source() const override { return "postgres"; }

 private:
  std::unique_ptr<RedisReader> redis_;
  std::unique_ptr<PgReader> pg_;
};

}  // namespace tl::proj
