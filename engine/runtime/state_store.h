// StateStore: the engine state and its checkpoint in RocksDB (a KvStore). The state is a
// cache of the ledger's fold: Commit writes what changed since the last
// commit together with the checkpoint (ledger offset folded, command offset
// consumed, sequence, digest) in one atomic batch, so the stored state always
// matches exactly the ledger prefix its checkpoint names.
//
// Keys (p = partition, big-endian u32; pos, idx = big-endian u64):
//   'c' p campaign            -> CampaignSnapshot
//   'e' p campaign '\0' page  -> entries of positions page*256+1 .. page*256+256,
//                                each: status byte, user length byte, user id
//   'q' p campaign '\0' idx   -> user id (pre-queue, arrival order; deleted
//                                once the pre-queue is ordered)
//   'r' p campaign '\0' user  -> reason byte (users refused without an entry)
//   'k' p                     -> Checkpoint
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/state.h"
#include "engine/runtime/kv_store.h"
#include "ticketledger/v1/state.pb.h"

namespace tl {

class StateStore {
 public:
  // RocksDB at `path` (created if missing).
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path);
  // Over any KvStore (the simulator's in-memory one).
  explicit StateStore(std::unique_ptr<KvStore> kv) : kv_(std::move(kv)) {}

  // Loads partition `partition`'s state into a fresh `state` and its
  // checkpoint into `cp` (zeros when nothing was ever committed).
  absl::Status Load(int partition, const EngineConfig& config, EngineState* state,
                    pb::Checkpoint* cp);
  // Reads only the checkpoint (zeros when nothing was ever committed).
  absl::StatusOr<pb::Checkpoint> ReadCheckpoint(int partition);
  // Writes the dirty parts of `state` and `cp` atomically, then marks the
  // state clean (left dirty on an error, to be written by the next commit). `sync` fsyncs the WAL
  // (not needed for correctness: the ledger is the truth and a lost commit is re-folded from it).
  absl::Status Commit(int partition, EngineState* state, const pb::Checkpoint& cp, bool sync);

 private:
  std::unique_ptr<KvStore> kv_;
};

}  // namespace tl
