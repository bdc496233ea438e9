#include "projections/redis/redis_sink.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/core/hash.h"
#include "engine/core/names.h"
#include "projections/delta.h"
#include "projections/redis/redis_keys.h"

namespace tl::proj {
namespace {

namespace keys = redis_keys;

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;
using Commands = std::vector<std::vector<std::string>>;

timeval Tv(absl::Duration d) { return absl::ToTimeval(d); }

// Adds a confirmed entry's units to its item's "confirmed" (KEYS: the
// entry_item hash, the items hash; ARGV: the user). No item: nothing.
constexpr char kConfirmUnits[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if not v then return 0 end "
    "local item, q = string.match(v, '^(.*)|(%d+)$') "
    "return redis.call('HINCRBY', KEYS[2], item .. '|confirmed', q)";

// A position's status value. The hold deadline and the waitlist rank go
// with the statuses they describe, each taken from the event that set the
// status (so a value never depends on where a batch began): a won entry's
// from its draw or promotion, a waitlisted one's rank from its draw, an
// expired one's deadline from the expiry.
std::string StatusOf(uint64_t pos, const EntryRow& row) {
  if (row.outcome.empty()) return keys::StatusValue(pos, kQueued);
  if (row.outcome == kWon)
    return keys::StatusValue(pos, kWon, row.hold_until_ms, row.waitlist_rank);
  if (row.outcome == kWaitlisted) return keys::StatusValue(pos, kWaitlisted, 0, row.waitlist_rank);
  if (row.outcome == kExpired) return keys::StatusValue(pos, kExpired, row.hold_until_ms);
  if (row.outcome == kAdmitted || row.outcome == kChoiceExpired)
    return keys::StatusValue(pos, row.outcome, 0, 0, row.choose_until_ms);
  return keys::StatusValue(pos, row.outcome);
}

// The rank and status rows of the positions a batch entered or decided,
// the pre-queued users, and the rejections.
void AppendEntries(const std::string& base, const std::string& id, const CampaignDelta& d,
                   Commands* cmds) {
  std::vector<std::string> zadd = {"ZADD", keys::Rank(base, id)};
  std::vector<std::string> hset = {"HSET", keys::Status(base, id)};
  std::vector<std::string> item_set = {"HSET", keys::EntryItems(base, id)};
  for (const auto* rows : {&d.entered, &d.changed}) {
    for (const auto& [pos, row] : *rows) {
      if (row.entered_sequence != 0) {
        zadd.push_back(std::to_string(pos));
        zadd.push_back(row.user);
      }
      hset.push_back(row.user);
      hset.push_back(StatusOf(pos, row));
      // Only events that name the item write it, each the same value (the
      // entry's ask, or what it took), so no batch split changes it.
      if (!row.item_id.empty()) {
        item_set.push_back(row.user);
        item_set.push_back(absl::StrCat(row.item_id, "|", row.quantity));
      }
    }
  }
  if (item_set.size() > 2) cmds->push_back(std::move(item_set));
  for (const std::string& u : d.prequeued) {
    hset.push_back(u);
    hset.push_back(keys::StatusValue(0, kPrequeued));
  }
  if (zadd.size() > 2) cmds->push_back(std::move(zadd));
  if (hset.size() > 2) cmds->push_back(std::move(hset));
  // A rejection never overwrites an entry (a duplicate's entry stands).
  for (const auto& [user, reason] : d.rejections)
    cmds->push_back({"HSETNX", keys::Status(base, id), user, keys::RejectedValue(reason)});
}

// The campaign's summary hash: its config when created, the values the
// batch set, and the counters it moved.
void AppendSummary(const std::string& base, const std::string& id, const CampaignDelta& d,
                   Commands* cmds) {
  const std::string summary_key = keys::Summary(base, id);
  std::vector<std::string> summary = {"HSET", summary_key};
  auto set = [&](const char* f, const std::string& v) {
    summary.push_back(f);
    summary.push_back(v);
  };
  const std::string items_key = keys::Items(base, id);
  if (d.created) {
    const auto& cfg = d.created->config();
    cmds->push_back({"SADD", keys::Campaigns(base), id});
    set("title", cfg.title());
    uint64_t stock = cfg.stock();
    for (const pb::Item& item : cfg.items()) stock += item.stock();
    set("stock", std::to_string(stock));
    set("win_bps", std::to_string(cfg.win_bps()));
    set("admission_rate_per_s", std::to_string(cfg.admission_rate_per_s()));
    set("queueing", QueueingName(cfg.queueing()));
    set("opens_at_ms", std::to_string(cfg.opens_at_ms()));
    set("max_entries", std::to_string(cfg.max_entries()));
    set("seed_commitment", ToHex(d.created->seed_commitment()));
    set("created_at_ms", std::to_string(d.created_at_ms));
    // Issue 14's options, only when set (absent: no hold, instant draw, no
    // entropy source), so campaigns without them read as they always did.
    if (cfg.hold_s() != 0) set("hold_s", std::to_string(cfg.hold_s()));
    if (cfg.draw() == pb::DRAW_AT_CLOSE) set("draw", DrawName(cfg.draw()));
    if (!cfg.entropy_source().empty()) set("entropy_source", cfg.entropy_source());
    for (const char* counter : {kWon, kLost, kSoldOut, kCancelled, "restocked", kRejected,
                                kPrequeued, "entries", "serving"})
      set(counter, "0");
    set("status", CampaignStatusName(false));
    set("admission_paused", "0");
    // Issue 15's options, only with items.
    if (cfg.items_size() > 0) {
      std::vector<std::string> ids, item_hset = {"HSET", items_key};
      for (const pb::Item& item : cfg.items()) {
        ids.push_back(item.id());
        for (auto [f, v] : {std::pair<const char*, std::string>{"label", item.label()},
                            {"stock", std::to_string(item.stock())},
                            {"per_user_max", std::to_string(item.per_user_max())},
                            {"taken", "0"},
                            {"returned", "0"},
                            {"restocked", "0"},
                            {kConfirmed, "0"},
                            {kWaitlisted, "0"},
                            {"promoted", "0"}}) {
          item_hset.push_back(keys::ItemField(item.id(), f));
          item_hset.push_back(v);
        }
      }
      cmds->push_back(std::move(item_hset));
      set("items", absl::StrJoin(ids, ","));
      set("per_user_max", std::to_string(cfg.per_user_max() == 0 ? 1 : cfg.per_user_max()));
      set("choose", ChooseName(cfg.choose()));
      if (cfg.choose() == pb::CHOOSE_ON_ADMISSION) {
        set("choose_s", std::to_string(cfg.choose_s()));
        for (const char* counter : {"admitted_choosing", "chosen", "choices_expired"})
          set(counter, "0");
      }
    }
  }
  if (d.entries) set("entries", std::to_string(*d.entries));
  if (d.serving) set("serving", std::to_string(*d.serving));
  if (d.stock_left) set("stock_left", std::to_string(*d.stock_left));
  if (d.closed) set("status", CampaignStatusName(*d.closed));
  if (d.paused) set("admission_paused", *d.paused ? "1" : "0");
  if (d.seed) set("seed", ToHex(*d.seed));
  if (d.merkle_root) set("merkle_root", ToHex(*d.merkle_root));
  if (d.merkle_leaves) set("merkle_leaves", std::to_string(*d.merkle_leaves));
  if (d.entropy_value) set("entropy_value", *d.entropy_value);
  set("sequence", std::to_string(d.last_sequence));
  cmds->push_back(std::move(summary));
  for (auto [f, v] : {std::pair{kWon, d.won},
                      {kLost, d.lost},
                      {kSoldOut, d.sold_out},
                      {kCancelled, d.cancelled},
                      {"restocked", d.restocked},
                      {kRejected, d.rejected},
                      {kPrequeued, d.prequeued_delta},
                      {kConfirmed, d.confirmed},
                      {kExpired, d.expired},
                      {kWaitlisted, d.waitlisted},
                      {"promoted", d.promoted},
                      {"admitted_choosing", d.admitted_choosing},
                      {"chosen", d.chosen},
                      {"choices_expired", d.choices_expired}}) {
    if (v != 0) cmds->push_back({"HINCRBY", summary_key, f, std::to_string(v)});
  }
  for (const auto& [item, n] : d.items) {
    if (n.stock_left)
      cmds->push_back(
          {"HSET", items_key, keys::ItemField(item, "stock_left"), std::to_string(*n.stock_left)});
    for (auto [f, v] : {std::pair{"taken", n.taken},
                        {"returned", n.returned},
                        {"restocked", n.restocked},
                        {kWaitlisted, n.waitlisted},
                        {"promoted", n.promoted}}) {
      if (v != 0)
        cmds->push_back({"HINCRBY", items_key, keys::ItemField(item, f), std::to_string(v)});
    }
  }
  // A confirmation names no item: its units are the entry's, which the
  // entry_item hash holds by now (written earlier in this MULTI or before).
  for (uint64_t pos : d.confirmed_positions) {
    const auto row = d.entered.count(pos) ? d.entered.find(pos) : d.changed.find(pos);
    cmds->push_back(
        {"EVAL", kConfirmUnits, "2", keys::EntryItems(base, id), items_key, row->second.user});
  }
}

// One JSON message per campaign the batch touched (feeds the live channel).
std::vector<std::string> PublishCommand(const std::string& prefix, const std::string& id,
                                        const CampaignDelta& d) {
  nlohmann::json msg = {
      {"campaign", id}, {"sequence", d.last_sequence}, {"entered", d.entered.size()}};
  if (d.entries) msg["entries"] = *d.entries;
  if (d.serving) msg["serving"] = *d.serving;
  if (d.stock_left) msg["stock_left"] = *d.stock_left;
  if (d.closed) msg["status"] = CampaignStatusName(*d.closed);
  // Each item's places left, when the batch moved them (issue 15).
  for (const auto& [item, n] : d.items)
    if (n.stock_left) msg["items"][item] = *n.stock_left;
  return {"PUBLISH", keys::Events(prefix, id), msg.dump()};
}

}  // namespace

std::string RedisCheckpointValue(const Checkpoint& c) {
  return absl::StrCat(c.next_offset, ":", c.next_sequence);
}

absl::StatusOr<Checkpoint> ParseRedisCheckpoint(const redisReply* r) {
  Checkpoint c;
  if (r->type == REDIS_REPLY_NIL) return c;
  if (r->type != REDIS_REPLY_STRING)
    return absl::DataLossError("redis: a checkpoint key holds something else");
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(r->str, r->len), ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &c.next_offset) ||
      !absl::SimpleAtoi(parts[1], &c.next_sequence))
    return absl::DataLossError(
        absl::StrCat("redis: unreadable checkpoint '", std::string(r->str, r->len), "'"));
  return c;
}

absl::StatusOr<RedisOptions> ParseRedisUrl(const std::string& url) {
  RedisOptions o;
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "redis://"))
    return absl::InvalidArgumentError("a Redis URL starts with redis://");
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view auth = rest.substr(0, at);
    if (size_t colon = auth.find(':'); colon != absl::string_view::npos)
      auth = auth.substr(colon + 1);
    o.password = std::string(auth);
    rest = rest.substr(at + 1);
  }
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(slash + 1), &o.db) || o.db < 0)
      return absl::InvalidArgumentError("the Redis URL's database is not a number");
    rest = rest.substr(0, slash);
  }
  // host[:port], or [ipv6]:port: the address inside the brackets, without them.
  absl::string_view host = rest, port;
  bool has_port = false;
  if (absl::ConsumePrefix(&rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos)
      return absl::InvalidArgumentError("the Redis URL's IPv6 address has no closing ']'");
    host = rest.substr(0, close);
    port = rest.substr(close + 1);
    has_port = !port.empty();
    if (has_port && !absl::ConsumePrefix(&port, ":"))
      return absl::InvalidArgumentError("the Redis URL's port is not a port");
  } else if (size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    has_port = true;
  }
  // A bracket belongs only around an IPv6 literal (found by fuzzing: "h:0]:6379" was host "h:0]").
  if (absl::StrContains(host, '[') || absl::StrContains(host, ']'))
    return absl::InvalidArgumentError(
        "the Redis URL's host has a '[' or ']' outside the brackets of an IPv6 address");
  if (has_port && (!absl::SimpleAtoi(port, &o.port) || o.port <= 0 || o.port > 65535))
    return absl::InvalidArgumentError("the Redis URL's port is not a port");
  if (!host.empty()) o.host = std::string(host);
  if (o.password.empty()) {
    if (const char* p = std::getenv("REDIS_PASSWORD")) o.password = p;
  }
  return o;
}

RedisConnection::~RedisConnection() {
  if (ctx_) redisFree(ctx_);
}

absl::Status RedisConnection::Connect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, Tv(options_.timeout));
  if (ctx_ == nullptr || ctx_->err) {
    absl::Status st = absl::UnavailableError(absl::StrCat(
        "redis ", options_.host, ":", options_.port, ": ", ctx_ ? ctx_->errstr : "out of memory"));
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    return st;
  }
  redisSetTimeout(ctx_, Tv(options_.timeout));
  std::vector<std::vector<std::string>> hello;
  if (!options_.password.empty()) hello.push_back({"AUTH", options_.password});
  if (options_.db != 0) hello.push_back({"SELECT", std::to_string(options_.db)});
  for (const auto& cmd : hello) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    std::string err = r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "";
    if (r) freeReplyObject(r);
    if (!ok) {
      redisFree(ctx_);
      ctx_ = nullptr;
      // Name the command, never its arguments (the password).
      return absl::PermissionDeniedError(absl::StrCat("redis ", cmd[0], " refused: ", err));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Reply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (ctx_ == nullptr) {
    if (absl::Status st = Connect(); !st.ok()) return st;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& cmd : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr) {
      absl::Status st =
          absl::UnavailableError(absl::StrCat("redis ", options_.host, ":", options_.port, ": ",
                                              ctx_->errstr[0] ? ctx_->errstr : "no reply"));
      redisFree(ctx_);  // the stream is out of step: start over next time
      ctx_ = nullptr;
      return st;
    }
    replies.emplace_back(static_cast<redisReply*>(r), freeReplyObject);
  }
  return replies;
}

RedisSink::RedisSink(RedisOptions options, std::string namespace_override, bool publish)
    : conn_(std::move(options)), fixed_ns_(std::move(namespace_override)), publish_(publish) {}

absl::StatusOr<std::string> RedisSink::CurrentNamespace() {
  absl::MutexLock lock(&mu_);
  const std::string key = keys::Current(conn_.options().prefix);
  auto r = conn_.Pipeline({{"SETNX", key, "v1"}, {"GET", key}});
  if (!r.ok()) return r.status();
  const redisReply* v = (*r)[1].get();
  if (v->type != REDIS_REPLY_STRING)
    return absl::DataLossError("redis: " + key + " is not a string");
  return std::string(v->str, v->len);
}

absl::Status RedisSink::Load(int partitions, std::vector<Checkpoint>* out) {
  std::string ns = fixed_ns_;
  if (ns.empty()) {
    absl::StatusOr<std::string> cur = CurrentNamespace();
    if (!cur.ok()) return cur.status();
    ns = *cur;
  }
  absl::MutexLock lock(&mu_);
  std::vector<std::string> mget = {"MGET"};
  for (int p = 0; p < partitions; ++p)
    mget.push_back(keys::Checkpoint(conn_.options().prefix + ns, p));
  auto r = conn_.Pipeline({mget});
  if (!r.ok()) return r.status();
  const redisReply* arr = (*r)[0].get();
  if (arr->type != REDIS_REPLY_ARRAY || static_cast<int>(arr->elements) != partitions)
    return absl::UnavailableError("redis: MGET of the checkpoints failed");
  out->assign(partitions, Checkpoint{});
  for (int p = 0; p < partitions; ++p) {
    absl::StatusOr<Checkpoint> c = ParseRedisCheckpoint(arr->element[p]);
    if (!c.ok()) return c.status();
    (*out)[p] = *c;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RedisSink::WatchBase() {
  if (!fixed_ns_.empty()) return conn_.options().prefix + fixed_ns_;
  const std::string current = keys::Current(conn_.options().prefix);
  auto r = conn_.Pipeline({{"WATCH", current}, {"GET", current}});
  if (!r.ok()) return r.status();
  const redisReply* v = (*r)[1].get();
  if (v->type != REDIS_REPLY_STRING) {
    (void)conn_.Pipeline({{"UNWATCH"}});
    return absl::FailedPreconditionError("redis: no current namespace yet");
  }
  return conn_.options().prefix + std::string(v->str, v->len);
}

absl::Status RedisSink::WatchCheckpoint(const std::string& key, const Checkpoint& from) {
  auto r = conn_.Pipeline({{"WATCH", key}, {"GET", key}});
  if (!r.ok()) return r.status();
  absl::StatusOr<Checkpoint> stored = ParseRedisCheckpoint((*r)[1].get());
  if (stored.ok() && *stored == from) return absl::OkStatus();
  (void)conn_.Pipeline({{"UNWATCH"}});
  return stored.ok() ? absl::FailedPreconditionError("redis: the checkpoint moved")
                     : stored.status();
}

absl::Status RedisSink::Exec(const std::vector<std::vector<std::string>>& cmds) {
  auto r = conn_.Pipeline(cmds);
  if (!r.ok()) return r.status();
  const redisReply* exec = r->back().get();
  if (exec->type == REDIS_REPLY_NIL)  // a watched key changed: nothing applied
    return absl::FailedPreconditionError("redis: the checkpoint or namespace moved");
  if (exec->type != REDIS_REPLY_ARRAY)
    return absl::UnavailableError(
        absl::StrCat("redis EXEC: ", exec->type == REDIS_REPLY_ERROR ? exec->str : "failed"));
  for (size_t i = 0; i < exec->elements; ++i) {
    if (exec->element[i]->type == REDIS_REPLY_ERROR)
      return absl::InternalError(
          absl::StrCat("redis: a batch command failed: ", exec->element[i]->str));
  }
  return absl::OkStatus();
}

absl::Status RedisSink::Apply(int partition, const std::vector<pb::Event>& events,
                              const Checkpoint& from, const Checkpoint& to) {
  absl::MutexLock lock(&mu_);
  // 1. Which namespace, and does the checkpoint still say `from`?
  absl::StatusOr<std::string> base = WatchBase();
  if (!base.ok()) return base.status();
  const std::string ckpt_key = keys::Checkpoint(*base, partition);
  if (absl::Status st = WatchCheckpoint(ckpt_key, from); !st.ok()) return st;
  // 2. The batch, folded per campaign into a few variadic commands, and the
  // checkpoint, in one MULTI/EXEC.
  Commands cmds = {{"MULTI"}};
  for (const auto& [id, d] : Summarize(events)) {
    AppendEntries(*base, id, d, &cmds);
    AppendSummary(*base, id, d, &cmds);
    if (publish_) cmds.push_back(PublishCommand(conn_.options().prefix, id, d));
  }
  cmds.push_back({"SET", ckpt_key, RedisCheckpointValue(to)});
  cmds.push_back({"EXEC"});
  return Exec(cmds);
}

}  // namespace tl::proj
