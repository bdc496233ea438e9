#include "projections/read_model.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "projections/redis/redis_keys.h"

namespace tl::proj {
namespace {

std::string Str(const redisReply* r) {
  return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
}

uint64_t Num(const redisReply* r) {
  uint64_t v = 0;
  if (r && r->type == REDIS_REPLY_STRING) (void)absl::SimpleAtoi(Str(r), &v);
  if (r && r->type == REDIS_REPLY_INTEGER) v = static_cast<uint64_t>(r->integer);
  return v;
}

// "<offset>:<next sequence>" -> next sequence (1: nothing applied).
uint64_t CheckpointSequence(const redisReply* r) {
  std::string v = Str(r);
  size_t colon = v.find(':');
  uint64_t seq = 1;
  if (colon != std::string::npos) (void)absl::SimpleAtoi(v.substr(colon + 1), &seq);
  return seq;
}

absl::Status Behind(const char* store, uint64_t applied, uint64_t want) {
  return absl::FailedPreconditionError(
      absl::StrCat(store, " has applied up to sequence ", applied, ", the api's fold ", want));
}

}  // namespace

StoreReadModel::StoreReadModel(std::optional<RedisOptions> redis, std::optional<PgOptions> pg)
    : redis_options_(std::move(redis)) {
  if (redis_options_) redis_ = std::make_unique<RedisConnection>(*redis_options_);
  if (pg) pg_ = std::make_unique<PgSink>(*pg);
}

absl::StatusOr<std::vector<std::unique_ptr<redisReply, void (*)(void*)>>> StoreReadModel::ReadRedis(
    const std::function<std::vector<std::vector<std::string>>(const std::string& base)>& commands) {
  const std::string& prefix = redis_options_->prefix;
  auto cur = redis_->Pipeline({{"GET", redis_keys::Current(prefix)}});
  if (!cur.ok()) return cur.status();
  std::string ns = Str((*cur)[0].get());
  if (ns.empty()) return absl::FailedPreconditionError("redis: no read model yet");
  std::vector<std::vector<std::string>> cmds = {{"MULTI"}};
  for (auto& c : commands(redis_keys::Base(prefix, ns))) cmds.push_back(std::move(c));
  cmds.push_back({"EXEC"});
  auto r = redis_->Pipeline(cmds);
  if (!r.ok()) return r.status();
  if (r->back()->type != REDIS_REPLY_ARRAY || r->back()->elements != cmds.size() - 2)
    return absl::UnavailableError("redis: the read transaction failed");
  return r;
}

absl::StatusOr<api::EntryView> StoreReadModel::Entry(int partition, uint64_t min_sequence,
                                                     const std::string& campaign,
                                                     const std::string& user) {
  if (!redis_options_) return absl::UnimplementedError("no Redis read model");
  absl::MutexLock lock(&redis_mu_);
  auto r = ReadRedis([&](const std::string& base) {
    return std::vector<std::vector<std::string>>{
        {"GET", redis_keys::CheckpointKey(base, partition)},
        {"HGET", redis_keys::Campaign(base, campaign, "status"), user},
        {"HMGET", redis_keys::Campaign(base, campaign, "summary"), "serving",
         "admission_rate_per_s", "admission_paused", "opens_at_ms"}};
  });
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  uint64_t applied = CheckpointSequence(exec->element[0]);
  if (applied < min_sequence) return Behind("redis", applied, min_sequence);
  api::EntryView v;
  const redisReply* summary = exec->element[2];
  if (summary->type == REDIS_REPLY_ARRAY && summary->elements == 4) {
    v.serving = Num(summary->element[0]);
    v.rate = static_cast<uint32_t>(Num(summary->element[1]));
    v.paused = Str(summary->element[2]) == "1";
    v.opens_at_ms = Num(summary->element[3]);
  }
  auto [pos, status] = redis_keys::SplitStatus(Str(exec->element[1]));
  v.position = pos;
  absl::string_view st = status;
  if (absl::ConsumePrefix(&st, "rejected:")) {
    v.reject_reason = std::string(st);
    v.status = "rejected";
  } else {
    v.status = status;
  }
  return v;
}

absl::StatusOr<api::RankingView> StoreReadModel::Ranking(int partition, uint64_t min_sequence,
                                                         const std::string& campaign,
                                                         uint64_t offset, uint64_t limit) {
  if (!redis_options_) return absl::UnimplementedError("no Redis read model");
  absl::MutexLock lock(&redis_mu_);
  std::string base_used;
  auto r = ReadRedis([&](const std::string& base) {
    base_used = base;
    return std::vector<std::vector<std::string>>{
        {"GET", redis_keys::CheckpointKey(base, partition)},
        {"ZRANGEBYSCORE", redis_keys::Campaign(base, campaign, "rank"), std::to_string(offset + 1),
         "+inf", "WITHSCORES", "LIMIT", "0", std::to_string(limit)},
        {"HMGET", redis_keys::Campaign(base, campaign, "summary"), "serving", "entries"}};
  });
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  uint64_t applied = CheckpointSequence(exec->element[0]);
  if (applied < min_sequence) return Behind("redis", applied, min_sequence);
  api::RankingView v;
  v.serving = Num(exec->element[2]->element[0]);
  v.total = Num(exec->element[2]->element[1]);
  const redisReply* rank = exec->element[1];
  std::vector<std::string> hmget = {"HMGET", redis_keys::Campaign(base_used, campaign, "status")};
  for (size_t i = 0; i + 1 < rank->elements; i += 2) {
    v.items.emplace_back(Num(rank->element[i + 1]), Str(rank->element[i]), "");
    hmget.push_back(Str(rank->element[i]));
  }
  if (!v.items.empty()) {
    // Statuses only move forward (queued -> decided), so reading them after
    // the ranking can only show them newer, never older than the fold.
    auto st = redis_->Pipeline({hmget});
    if (!st.ok()) return st.status();
    const redisReply* arr = (*st)[0].get();
    for (size_t i = 0; i < v.items.size() && i < arr->elements; ++i)
      std::get<2>(v.items[i]) = redis_keys::SplitStatus(Str(arr->element[i])).second;
  }
  return v;
}

absl::StatusOr<api::ResultsView> StoreReadModel::Results(int partition, uint64_t min_sequence,
                                                         const std::string& campaign,
                                                         uint64_t cursor, uint64_t limit,
                                                         const std::string& outcome) {
  if (!pg_) return absl::UnimplementedError("no PostgreSQL read model");
  api::ResultsView v;
  absl::Status behind;
  absl::Status st = pg_->Read([&](pqxx::work& tx) {
    auto ck = tx.exec_params("SELECT next_sequence FROM checkpoints WHERE ledger_partition = $1",
                             partition);
    uint64_t applied = ck.empty() ? 1 : ck[0][0].as<uint64_t>();
    if (applied < min_sequence) {
      behind = Behind("postgres", applied, min_sequence);
      return;
    }
    // entries_by_outcome serves both: (campaign, outcome, position).
    auto rows = tx.exec_params(
        "SELECT position, user_id, outcome FROM entries WHERE campaign = $1 AND position > $2 "
        "AND outcome IS NOT NULL AND ($3 = '' OR outcome = $3) ORDER BY position LIMIT $4",
        campaign, cursor, outcome, limit + 1);
    for (const auto& row : rows) {
      if (v.items.size() == limit) {
        v.next_cursor = std::get<0>(v.items.back());
        break;
      }
      v.items.emplace_back(row[0].as<uint64_t>(), row[1].c_str(), row[2].c_str());
    }
  });
  if (!st.ok()) return st;
  if (!behind.ok()) return behind;
  return v;
}

}  // namespace tl::proj
