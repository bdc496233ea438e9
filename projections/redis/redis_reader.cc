#include "projections/redis/redis_reader.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/core/names.h"
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

// A Redis checkpoint -> the next sequence it applies (1: nothing applied).
uint64_t CheckpointSequence(const redisReply* r) {
  absl::StatusOr<Checkpoint> c = ParseRedisCheckpoint(r);
  return c.ok() ? c->next_sequence : 1;
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<redisReply, void (*)(void*)>>> RedisReader::ReadRedis(
    const std::function<std::vector<std::vector<std::string>>(const std::string& base)>& commands) {
  const std::string& prefix = conn_.options().prefix;
  auto cur = conn_.Pipeline({{"GET", redis_keys::Current(prefix)}});
  if (!cur.ok()) return cur.status();
  std::string ns = Str((*cur)[0].get());
  if (ns.empty()) return absl::FailedPreconditionError("redis: no read model yet");
  std::vector<std::vector<std::string>> cmds = {{"MULTI"}};
  for (auto& c : commands(prefix + ns)) cmds.push_back(std::move(c));
  cmds.push_back({"EXEC"});
  auto r = conn_.Pipeline(cmds);
  if (!r.ok()) return r.status();
  if (r->back()->type != REDIS_REPLY_ARRAY || r->back()->elements != cmds.size() - 2)
    return absl::UnavailableError("redis: the read transaction failed");
  return r;
}

absl::StatusOr<api::EntryView> RedisReader::Entry(int partition, uint64_t min_sequence,
                                                  const std::string& campaign,
                                                  const std::string& user) {
  absl::MutexLock lock(&mu_);
  std::string base_used;
  auto r = ReadRedis([&](const std::string& base) {
    base_used = base;
    return std::vector<std::vector<std::string>>{
        {"GET", redis_keys::Checkpoint(base, partition)},
        {"HGET", redis_keys::Status(base, campaign), user},
        {"HMGET", redis_keys::Summary(base, campaign), "serving", "admission_rate_per_s",
         "admission_paused", "opens_at_ms", "promoted"},
        {"HGET", redis_keys::EntryItems(base, campaign), user}};
  });
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  uint64_t applied = CheckpointSequence(exec->element[0]);
  if (applied < min_sequence) return api::StoreBehind("redis", applied, min_sequence);
  api::EntryView v;
  const redisReply* summary = exec->element[2];
  uint64_t promoted = 0;
  if (summary->type == REDIS_REPLY_ARRAY && summary->elements == 5) {
    v.serving = Num(summary->element[0]);
    v.rate = static_cast<uint32_t>(Num(summary->element[1]));
    v.paused = Str(summary->element[2]) == "1";
    v.opens_at_ms = Num(summary->element[3]);
    promoted = Num(summary->element[4]);
  }
  redis_keys::StatusFields f = redis_keys::ParseStatusValue(Str(exec->element[1]));
  v.position = f.position;
  absl::string_view st = f.status;
  if (absl::ConsumePrefix(&st, redis_keys::kRejectedPrefix)) {
    v.reject_reason = std::string(st);
    v.status = kRejected;
  } else {
    v.status = f.status;
  }
  // Only a standing win holds a deadline (as the engine's fold knows it: an
  // expired entry's passed deadline is in the store, not in the view).
  if (v.status == kWon) v.hold_until_ms = f.hold_until_ms;
  // A waitlisted entry's place moves up with each promotion (each takes the
  // head); any other status has no place.
  // Only an admission still choosing has a deadline.
  if (v.status == kAdmitted) v.choose_until_ms = f.choose_until_ms;
  const std::string item = Str(exec->element[3]);  // "<item id>|<quantity>"
  if (size_t bar = item.rfind('|'); bar != std::string::npos) {
    v.item_id = item.substr(0, bar);
    (void)absl::SimpleAtoi(item.substr(bar + 1), &v.quantity);
  }
  if (v.status == kWaitlisted && !v.item_id.empty()) {
    // With items the waitlist is the item's, and so are its promotions.
    // Promotions only grow: read after the status, the rank can only be
    // newer than it, never older.
    auto n = conn_.Pipeline({{"HGET", redis_keys::Items(base_used, campaign),
                              redis_keys::ItemField(v.item_id, "promoted")}});
    if (!n.ok()) return n.status();
    promoted = Num((*n)[0].get());
  }
  if (v.status == kWaitlisted && f.waitlist_rank > promoted)
    v.waitlist_rank = f.waitlist_rank - promoted;
  return v;
}

absl::StatusOr<api::ItemsView> RedisReader::Items(int partition, uint64_t min_sequence,
                                                  const std::string& campaign) {
  absl::MutexLock lock(&mu_);
  auto r = ReadRedis([&](const std::string& base) {
    return std::vector<std::vector<std::string>>{
        {"GET", redis_keys::Checkpoint(base, partition)},
        {"HMGET", redis_keys::Summary(base, campaign), "items", "admitted_choosing", "chosen",
         "choices_expired"},
        {"HGETALL", redis_keys::Items(base, campaign)}};
  });
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  uint64_t applied = CheckpointSequence(exec->element[0]);
  if (applied < min_sequence) return api::StoreBehind("redis", applied, min_sequence);
  api::ItemsView v;
  const redisReply* summary = exec->element[1];
  if (summary->type != REDIS_REPLY_ARRAY || summary->elements != 4) return v;
  v.admitted_choosing = Num(summary->element[1]);
  v.chosen = Num(summary->element[2]);
  v.choices_expired = Num(summary->element[3]);
  std::map<std::string, std::string> fields;
  const redisReply* all = exec->element[2];
  for (size_t i = 0; i + 1 < all->elements; i += 2)
    fields[Str(all->element[i])] = Str(all->element[i + 1]);
  auto num = [&](const std::string& id, const char* name) {
    uint64_t n = 0;
    (void)absl::SimpleAtoi(fields[redis_keys::ItemField(id, name)], &n);
    return n;
  };
  const std::string ids = Str(summary->element[0]);
  if (ids.empty()) return v;
  for (absl::string_view id_view : absl::StrSplit(ids, ',')) {
    const std::string id(id_view);
    api::ItemsView::Item item;
    item.id = id;
    item.label = fields[redis_keys::ItemField(id, "label")];
    item.stock = num(id, "stock");
    item.stock_left = num(id, "stock_left");
    item.taken = num(id, "taken");
    item.returned = num(id, "returned");
    item.restocked = num(id, "restocked");
    item.confirmed = num(id, kConfirmed);
    item.waitlisted = num(id, kWaitlisted);
    item.promoted = num(id, "promoted");
    item.per_user_max = static_cast<uint32_t>(num(id, "per_user_max"));
    v.items.push_back(std::move(item));
  }
  return v;
}

absl::StatusOr<api::RankingView> RedisReader::Ranking(int partition, uint64_t min_sequence,
                                                      const std::string& campaign, uint64_t offset,
                                                      uint64_t limit) {
  absl::MutexLock lock(&mu_);
  std::string base_used;
  auto r = ReadRedis([&](const std::string& base) {
    base_used = base;
    return std::vector<std::vector<std::string>>{
        {"GET", redis_keys::Checkpoint(base, partition)},
        {"ZRANGEBYSCORE", redis_keys::Rank(base, campaign), std::to_string(offset + 1), "+inf",
         "WITHSCORES", "LIMIT", "0", std::to_string(limit)},
        {"HMGET", redis_keys::Summary(base, campaign), "serving", "entries"}};
  });
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  uint64_t applied = CheckpointSequence(exec->element[0]);
  if (applied < min_sequence) return api::StoreBehind("redis", applied, min_sequence);
  api::RankingView v;
  v.serving = Num(exec->element[2]->element[0]);
  v.total = Num(exec->element[2]->element[1]);
  const redisReply* rank = exec->element[1];
  std::vector<std::string> hmget = {"HMGET", redis_keys::Status(base_used, campaign)};
  for (size_t i = 0; i + 1 < rank->elements; i += 2) {
    v.items.emplace_back(Num(rank->element[i + 1]), Str(rank->element[i]), "");
    hmget.push_back(Str(rank->element[i]));
  }
  if (!v.items.empty()) {
    // Statuses only move forward (queued -> decided), so reading them after
    // the ranking can only show them newer, never older than the fold.
    auto st = conn_.Pipeline({hmget});
    if (!st.ok()) return st.status();
    const redisReply* arr = (*st)[0].get();
    for (size_t i = 0; i < v.items.size() && i < arr->elements; ++i)
      std::get<2>(v.items[i]) = redis_keys::ParseStatusValue(Str(arr->element[i])).status;
  }
  return v;
}

}  // namespace tl::proj
