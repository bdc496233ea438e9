// RedisSink's rebuild steps: which namespace a rebuild fills, and the swaps
// that put a rebuilt namespace or campaign in front of readers atomically.
#include "absl/strings/str_cat.h"
#include "projections/redis/redis_keys.h"
#include "projections/redis/redis_sink.h"

namespace tl::proj {

namespace keys = redis_keys;

absl::StatusOr<std::string> RedisSink::RebuildNamespace(bool* resumed) {
  absl::MutexLock lock(&mu_);
  const std::string& prefix = conn_.options().prefix;
  auto r = conn_.Pipeline({{"GET", keys::RebuildMarker(prefix)}});
  if (!r.ok()) return r.status();
  if ((*r)[0]->type == REDIS_REPLY_STRING) {
    *resumed = true;
    return std::string((*r)[0]->str, (*r)[0]->len);
  }
  *resumed = false;
  auto n = conn_.Pipeline({{"INCR", keys::RebuildCounter(prefix)}});
  if (!n.ok()) return n.status();
  const std::string ns = absl::StrCat("r", (*n)[0]->integer);
  auto set = conn_.Pipeline({{"SET", keys::RebuildMarker(prefix), ns}});
  if (!set.ok()) return set.status();
  return ns;
}

absl::Status RedisSink::SwapNamespace(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  const std::string& prefix = conn_.options().prefix;
  auto swap = conn_.Pipeline({{"MULTI"},
                              {"SET", keys::Current(prefix), ns},
                              {"DEL", keys::RebuildMarker(prefix)},
                              {"EXEC"}});
  if (!swap.ok()) return swap.status();
  if (swap->back()->type != REDIS_REPLY_ARRAY) return absl::InternalError("EXEC failed");
  return absl::OkStatus();
}

absl::Status RedisSink::ForgetRebuild() {
  absl::MutexLock lock(&mu_);
  return conn_.Pipeline({{"DEL", keys::RebuildMarker(conn_.options().prefix)}}).status();
}

absl::Status RedisSink::DropNamespace(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  const std::string pattern = conn_.options().prefix + ns + ":*";
  std::string cursor = "0";
  do {
    auto s = conn_.Pipeline({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
    if (!s.ok()) return s.status();
    const redisReply* res = (*s)[0].get();
    if (res->type != REDIS_REPLY_ARRAY || res->elements != 2)
      return absl::InternalError("redis: SCAN answered something else");
    cursor = std::string(res->element[0]->str, res->element[0]->len);
    std::vector<std::string> unlink = {"UNLINK"};
    for (size_t i = 0; i < res->element[1]->elements; ++i)
      unlink.emplace_back(res->element[1]->element[i]->str, res->element[1]->element[i]->len);
    if (unlink.size() > 1) {
      if (auto u = conn_.Pipeline({unlink}); !u.ok()) return u.status();
    }
  } while (cursor != "0");
  return absl::OkStatus();
}

absl::Status RedisSink::DropCampaign(const std::string& ns, const std::string& campaign,
                                     int partition) {
  absl::MutexLock lock(&mu_);
  const std::string base = conn_.options().prefix + ns;
  std::vector<std::string> del = {"DEL", keys::Checkpoint(base, partition), keys::Campaigns(base)};
  for (std::string& key : keys::CampaignKeys(base, campaign)) del.push_back(std::move(key));
  return conn_.Pipeline({del}).status();
}

absl::StatusOr<bool> RedisSink::SwapCampaign(const std::string& fresh_ns,
                                             const std::string& live_ns,
                                             const std::string& campaign, int partition,
                                             const Checkpoint& at) {
  absl::MutexLock lock(&mu_);
  const std::string& prefix = conn_.options().prefix;
  const std::string ckpt_key = keys::Checkpoint(prefix + live_ns, partition);
  auto w = conn_.Pipeline({{"WATCH", ckpt_key, keys::Current(prefix)},
                           {"GET", ckpt_key},
                           {"GET", keys::Current(prefix)}});
  if (!w.ok()) return w.status();
  absl::StatusOr<Checkpoint> now = ParseRedisCheckpoint((*w)[1].get());
  const redisReply* current = (*w)[2].get();
  if (!now.ok() || !(*now == at) || current->type != REDIS_REPLY_STRING ||
      std::string(current->str, current->len) != live_ns) {
    (void)conn_.Pipeline({{"UNWATCH"}});
    if (!now.ok()) return now.status();
    return false;
  }
  const std::vector<std::string> fresh = keys::CampaignKeys(prefix + fresh_ns, campaign);
  const std::vector<std::string> live = keys::CampaignKeys(prefix + live_ns, campaign);
  std::vector<std::vector<std::string>> exists, swap = {{"MULTI"}};
  for (size_t i = 0; i < fresh.size(); ++i) {
    exists.push_back({"EXISTS", fresh[i]});
    swap.push_back({"DEL", live[i]});
  }
  auto found = conn_.Pipeline(exists);
  if (!found.ok()) return found.status();
  for (size_t i = 0; i < fresh.size(); ++i) {
    if ((*found)[i]->integer == 1) swap.push_back({"RENAME", fresh[i], live[i]});
  }
  swap.push_back({"EXEC"});
  auto done = conn_.Pipeline(swap);
  if (!done.ok()) return done.status();
  return done->back()->type == REDIS_REPLY_ARRAY;  // nil: a watched key moved
}

}  // namespace tl::proj
