// The Redis read model (hiredis). Keys live in a namespace named by
// `<prefix>current` (e.g. tl:current = "v1" -> keys tl:v1:...), so a rebuild
// can fill a fresh namespace and swap it in with one SET:
//
//   <ns>:c:<campaign>:rank     ZSET   score = queue position, member = user
//   <ns>:c:<campaign>:status   HASH   user -> "<position>|<status>" (queued,
//                                     won, lost, sold_out, cancelled,
//                                     confirmed; "0|prequeued";
//                                     "0|rejected:<REASON>"), and for a held
//                                     win, a waitlisted or an expired entry
//                                     "<position>|<status>|<hold_until_ms>|
//                                     <waitlist_rank>" (redis_keys.h)
//   <ns>:c:<campaign>:summary  HASH   config, status, entries, serving,
//                                     stock_left, won, lost, sold_out, ...;
//                                     hold_s, draw, entropy_source,
//                                     merkle_root, merkle_leaves,
//                                     entropy_value, confirmed, expired,
//                                     waitlisted, promoted once set (absent:
//                                     0 / instant / none)
//   <ns>:c:<campaign>:items    HASH   with items (issue 15): "<item>|<name>"
//                                     -> label, stock, per_user_max,
//                                     stock_left, taken, returned, restocked,
//                                     confirmed, waitlisted, promoted (units);
//                                     the summary adds items (ids, in config
//                                     order), per_user_max, choose, choose_s,
//                                     admitted_choosing, chosen,
//                                     choices_expired
//   <ns>:c:<campaign>:entry_item HASH user -> "<item>|<quantity>" asked for
//                                     or taken; an admitted entry's status
//                                     "<position>|admitted|0|0|<choose_until_ms>"
//   <ns>:campaigns             SET    campaign ids
//   <ns>:ckpt:<partition>      STRING "<next ledger offset>:<next sequence>"
//   <prefix>events:<campaign>  pub/sub channel: one JSON message per batch
//                              that touched the campaign (feeds SSE)
//
// A batch is one MULTI/EXEC holding the data and the partition's checkpoint,
// under WATCH of the checkpoint (and of <prefix>current when following it),
// so a concurrent writer or a swap aborts it instead of doubling it.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "projections/projector.h"

namespace tl::proj {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // AUTH, if set; never printed
  int db = 0;
  std::string prefix = "tl:";
  absl::Duration timeout = absl::Seconds(2);
};

// Parses redis://[:password@]host[:port][/db]; the password may also come
// from $REDIS_PASSWORD.
absl::StatusOr<RedisOptions> ParseRedisUrl(const std::string& url);

// A checkpoint's value: "<next ledger offset>:<next sequence>"; a missing
// key (nil) is the start, anything unreadable DataLoss.
std::string RedisCheckpointValue(const Checkpoint& c);
absl::StatusOr<Checkpoint> ParseRedisCheckpoint(const redisReply* r);

// One connection; reconnects after an error. Not thread-safe: callers lock.
class RedisConnection {
 public:
  explicit RedisConnection(RedisOptions options) : options_(std::move(options)) {}
  ~RedisConnection();
  // Sends every command (argv lists) pipelined; returns the replies in order.
  absl::StatusOr<std::vector<std::unique_ptr<redisReply, void (*)(void*)>>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  const RedisOptions& options() const { return options_; }

 private:
  absl::Status Connect();
  RedisOptions options_;
  redisContext* ctx_ = nullptr;
};

class RedisSink final : public Sink {
 public:
  // namespace_override empty: follow <prefix>current (created as "v1" if
  // missing); else write that namespace (a rebuild).
  RedisSink(RedisOptions options, std::string namespace_override = "", bool publish = true);
  std::string name() const override { return "redis"; }
  absl::Status Load(int partitions, std::vector<Checkpoint>* out) override;
  absl::Status Apply(int partition, const std::vector<pb::Event>& events, const Checkpoint& from,
                     const Checkpoint& to) override;
  // The namespace readers use now (<prefix>current), creating it if missing.
  absl::StatusOr<std::string> CurrentNamespace();

  // --- Rebuilds (redis_rebuild.cc; ops/rebuild.cc orchestrates them).
  // The namespace a full rebuild fills: the one an interrupted rebuild left
  // (*resumed = true), else a new one, remembered under <prefix>rebuild.
  absl::StatusOr<std::string> RebuildNamespace(bool* resumed);
  // Makes `ns` the namespace readers use and forgets the rebuild, in one
  // MULTI/EXEC; the live projector's next batch finds the namespace moved.
  absl::Status SwapNamespace(const std::string& ns);
  // Forgets the rebuild in progress (a dry run's end).
  absl::Status ForgetRebuild();
  // Unlinks every key of namespace `ns`, SCAN by SCAN.
  absl::Status DropNamespace(const std::string& ns);
  // Deletes one campaign's keys, the campaign set and one partition's
  // checkpoint in namespace `ns` (a one-campaign rebuild's scratch copy).
  absl::Status DropCampaign(const std::string& ns, const std::string& campaign, int partition);
  // Renames `campaign`'s keys in `fresh_ns` over those in `live_ns` in one
  // MULTI/EXEC, under WATCH of the live checkpoint of `partition` and of
  // <prefix>current. false: that checkpoint is no longer `at`, or the
  // namespace moved; nothing swapped.
  absl::StatusOr<bool> SwapCampaign(const std::string& fresh_ns, const std::string& live_ns,
                                    const std::string& campaign, int partition,
                                    const Checkpoint& at);

 private:
  // Apply's steps, under mu_: WATCH <prefix>current (when following it) and
  // return the namespace's key base; WATCH the checkpoint and check it is
  // `from`; run the MULTI/EXEC and check every reply.
  absl::StatusOr<std::string> WatchBase() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WatchCheckpoint(const std::string& key, const Checkpoint& from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const std::vector<std::vector<std::string>>& cmds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  RedisConnection conn_ ABSL_GUARDED_BY(mu_);
  const std::string fixed_ns_;
  const bool publish_;
};

}  // namespace tl::proj
