#include "projections/read_model.h"

namespace tl::proj {

StoreReadModel::StoreReadModel(std::optional<RedisOptions> redis, std::optional<PgOptions> pg) {
  if (redis) redis_ = std::make_unique<RedisReader>(std::move(*redis));
  if (pg) pg_ = std::make_unique<PgReader>(std::move(*pg));
}

absl::StatusOr<api::EntryView> StoreReadModel::Entry(int partition, uint64_t min_sequence,
                                                     const std::string& campaign,
                                                     const std::string& user) {
  if (!redis_) return absl::UnimplementedError("no Redis read model");
  return redis_->Entry(partition, min_sequence, campaign, user);
}

absl::StatusOr<api::RankingView> StoreReadModel::Ranking(int partition, uint64_t min_sequence,
                                                         const std::string& campaign,
                                                         uint64_t offset, uint64_t limit) {
  if (!redis_) return absl::UnimplementedError("no Redis read model");
  return redis_->Ranking(partition, min_sequence, campaign, offset, limit);
}

absl::StatusOr<api::ResultsView> StoreReadModel::Results(int partition, uint64_t min_sequence,
                                                         const std::string& campaign,
                                                         uint64_t cursor, uint64_t limit,
                                                         const std::string& outcome,
                                                         const std::string& item) {
  if (!pg_) return absl::UnimplementedError("no PostgreSQL read model");
  return pg_->Results(partition, min_sequence, campaign, cursor, limit, outcome, item);
}

absl::StatusOr<api::ItemsView> StoreReadModel::Items(int partition, uint64_t min_sequence,
                                                     const std::string& campaign) {
  if (!redis_) return absl::UnimplementedError("no Redis read model");
  return redis_->Items(partition, min_sequence, campaign);
}

absl::StatusOr<api::WaitlistView> StoreReadModel::Waitlist(int partition, uint64_t min_sequence,
                                                           const std::string& campaign,
                                                           uint64_t cursor, uint64_t limit,
                                                           const std::string& item) {
  if (!pg_) return absl::UnimplementedError("no PostgreSQL read model");
  return pg_->Waitlist(partition, min_sequence, campaign, cursor, limit, item);
}

}  // namespace tl::proj
