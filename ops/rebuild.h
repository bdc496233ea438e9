// `ticketctl rebuild redis|postgres`: recreate a read model from the ledger
// into a fresh namespace (Redis) or schema (PostgreSQL), then swap it in
// atomically, so readers never see a half-built projection. Interrupted, it
// resumes where the fresh namespace's checkpoints say on the next run.
#pragma once

#include <string>

#include "engine/log/event_log.h"

namespace tl {

struct RebuildOptions {
  std::string target;  // "redis" or "postgres"
  std::string redis_url, redis_prefix = "tl:";
  std::string postgres_url, postgres_schema = "ticketledger";
  bool dry_run = false;  // build, report, drop; never swap
  // Non-empty: rebuild only this campaign's keys / rows, up to exactly the
  // live projector's checkpoint, and swap them in one MULTI/EXEC (under
  // WATCH of that checkpoint) or one transaction (holding its row lock).
  std::string campaign;
};

// Returns the exit code: 0 done, 1 failed, 2 the target is unreachable or
// misconfigured.
int RunRebuild(const RebuildOptions& options, EventLog* ledger);

}  // namespace tl
