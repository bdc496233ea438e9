// The Redis read model (hiredis). Keys live in a namespace named by
// `<prefix>current` (e.g. tl:current = "v1" -> keys tl:v1:...), so a rebuild
// can fill a fresh namespace and swap it in with one SET:
//
//   <ns>:c:<campaign>:rank     ZSET   score = queue position, member = user
//   <ns>:c:<campaign>:status   HASH   user -> "<position>|<status>" (queued,
//                                     won, lost, sold_out, cancelled;
//                                     "0|prequeued"; "0|rejected:<REASON>")
//   <ns>:c:<campaign>:summary  HASH   config, status, entries, serving,
//                                     stock_left, won, lost, sold_out, ...
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
  RedisConnection& connection() { return conn_; }

 private:
  absl::Mutex mu_;
  RedisConnection conn_ ABSL_GUARDED_BY(mu_);
  const std::string fixed_ns_;
  const bool publish_;
};

}  // namespace tl::proj
