// LiveHub: the waiting room's live channel. Each watcher (an SSE stream or a
// WebSocket, one user in one campaign) gets its entry's state — position,
// people ahead, serving counter, estimated wait, admission state, outcome,
// a held win's deadline (hold_until_ms, the countdown), a waitlisted entry's
// current rank — pushed whenever it changes. A held win and a waitlisted
// entry are not final: the stream goes on until the win is confirmed,
// expired or cancelled, and past a promotion. Every change of a
// campaign looks at all its watchers, so a promotion, which moves the rank of
// every waitlisted user, reaches each of them (coalesced like any change).
//
// One fan-out per campaign change, not a poll per client: the engine (or the
// api role's ledger follower) reports progress per partition; the hub's one
// thread looks at each changed campaign at most once per `interval_ms`
// (coalescing; longer when the whole crowd would pass messages_per_s_max),
// takes every watcher's view in one pass under the partition's lock, and
// sends only the watchers whose message changed. The fold drives
// it in every role; a read model is never ahead of the fold, so reading it
// here could only be older.
//
// Message ids are the partition's ledger sequence at the snapshot, the same
// on every replica folding the same ledger: a client resuming with
// Last-Event-ID N is never sent a state older than N.
//
// Bounds: streams per user, per client address, and in total (derived from
// memory: streams_memory_bytes / kStreamBytes). A slow reader costs at most
// two messages (StreamConn coalesces) and is dropped at the write deadline.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/backend.h"
#include "api/http/message.h"
#include "api/metrics.h"
#include "api/pass.h"

namespace tl::api {

struct LiveOptions {
  int interval_ms = 250;  // at most one message per watcher per interval
  // Messages a second for all watchers together: a crowd bigger than this
  // allows at interval_ms gets its updates less often (18,000 watchers at
  // 25,000/s: every 0.72 s), so the fan-out never crowds out the entries.
  size_t messages_per_s_max = 25'000;
  size_t streams_per_user_max = 4;
  size_t streams_per_address_max = 1024;
  size_t streams_memory_bytes = size_t{1} << 30;
  int heartbeat_s = 15;     // SSE comment when nothing else was sent
  int stream_max_s = 3600;  // then the stream ends and the client reconnects
  // Set by the Api from ApiOptions::pass: a won entry's messages carry its
  // admission pass (api/pass.h; exp = the hold deadline when held); a stream
  // is per user, so only the winner sees it.
  std::shared_ptr<const PassSigner> pass;
};

// What one live stream costs the server, all told (connection, buffers, the
// watcher, its last message), rounded up from the measured ~4 KB.
inline constexpr size_t kStreamBytes = 16 * 1024;

class LiveHub {
 public:
  struct Watcher;

  LiveHub(ApiBackend* backend, LiveOptions options, Metrics* metrics);
  ~LiveHub();
  void Start();
  void Stop();

  // Reserves a stream: ResourceExhausted when the user or the address holds
  // its share, Unavailable when the server holds all it can.
  absl::StatusOr<std::shared_ptr<Watcher>> Reserve(const std::string& campaign, int partition,
                                                   const std::string& user,
                                                   const std::string& address, uint64_t last_id);
  // The stream is open: send the current state, then every change.
  void Open(const std::shared_ptr<Watcher>& w, std::shared_ptr<http::StreamConn> conn);
  // The stream ended (either side); idempotent.
  void Release(const std::shared_ptr<Watcher>& w);

  // One-shot: `done(entry)` once the user's entry is final, or at `deadline`
  // with its state then (Prefer: wait on an entry queued behind an admission
  // rate). Runs on the hub's thread.
  void AwaitOutcome(const std::string& campaign, int partition, const std::string& user,
                    absl::Time deadline, std::function<void(nlohmann::json)> done);

  // The partition folded something new.
  void Progress(int partition);
  size_t streams();
  size_t streams_max() const { return streams_max_; }

 private:
  struct Campaign;
  struct OutcomeWait {
    std::string user;
    absl::Time deadline;
    std::function<void(nlohmann::json)> done;
  };
  void Run();
  void Tick(absl::Time now);
  nlohmann::json CurrentEntry(const Campaign& c, const std::string& user);
  // Sends each of `watchers` (of `c`) whose message changed.
  void FanOut(Campaign* c, const std::vector<std::shared_ptr<Watcher>>& watchers, absl::Time now);

  ApiBackend* const backend_;
  const LiveOptions options_;
  Metrics* const metrics_;
  const size_t streams_max_;
  std::vector<std::unique_ptr<std::atomic<bool>>> dirty_;  // per partition

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Campaign>> campaigns_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_user_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_address_ ABSL_GUARDED_BY(mu_);
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tl::api
