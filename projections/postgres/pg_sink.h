// The PostgreSQL read model (libpqxx): tables `campaigns`, `entries`,
// `stock_changes` and `checkpoints` in one schema (projections/migrations/,
// applied at start, idempotently, recorded in public.ticketledger_migrations).
//
// A batch is one transaction: new entries and stock changes by COPY, outcomes
// decided for earlier entries by one UPDATE from a COPY'd temporary table,
// campaign rows by upsert, and the checkpoint moved conditionally (0 rows
// updated = someone else moved it: rolled back, FailedPrecondition).
//
// A rebuild fills schema `<schema>_rebuild` and swaps it in with two ALTER
// SCHEMA ... RENAME in one transaction, so readers see the old tables or the
// new ones, never half of either.
#pragma once

#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "projections/projector.h"

namespace tl::proj {

struct PgOptions {
  // A libpq connection string or URI (postgresql://user@host:port/db); the
  // password may come from $PGPASSWORD or ~/.pgpass. Never printed.
  std::string url;
  std::string schema = "ticketledger";
};

// The migrations shipped in the binary, in order: (version, name, sql).
struct Migration {
  int version;
  const char* name;
  const char* sql;
};
const std::vector<Migration>& Migrations();

class PgSink final : public Sink {
 public:
  explicit PgSink(PgOptions options);
  std::string name() const override { return "postgres"; }
  // Connects (if needed) and applies the missing migrations to `schema`.
  absl::Status Migrate(const std::string& schema);
  absl::Status Load(int partitions, std::vector<Checkpoint>* out) override;
  absl::Status Apply(int partition, const std::vector<pb::Event>& events, const Checkpoint& from,
                     const Checkpoint& to) override;
  // Replaces `live` with `rebuilt` atomically; the old tables are dropped.
  absl::Status Swap(const std::string& rebuilt, const std::string& live);
  // Replaces `campaign`'s rows in the sink's schema with those in
  // `fresh_schema`, in one transaction that holds the checkpoint row of
  // `partition` (FOR UPDATE), so the projector waits and then goes on from
  // there. false: that checkpoint is no longer `at`; nothing replaced.
  absl::StatusOr<bool> SwapCampaign(const std::string& fresh_schema, const std::string& campaign,
                                    int partition, const Checkpoint& at);
  absl::Status DropSchema(const std::string& schema);
  // Runs `fn` in one transaction on the sink's schema (the api's reads and
  // dumps). A transaction `fn` does not commit is rolled back.
  absl::Status Read(const std::function<void(pqxx::work&)>& fn);

 private:
  absl::Status Connect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Guarded(const std::function<absl::Status()>& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The one way in: under the lock, connected, `fn` runs in one transaction
  // (search_path set to `search_path` if not empty) with connection and SQL
  // errors turned into Status; a transaction `fn` does not commit is rolled
  // back.
  absl::Status Transaction(const std::string& search_path,
                           const std::function<absl::Status(pqxx::work&)>& fn);
  absl::Mutex mu_;
  PgOptions options_;
  std::unique_ptr<pqxx::connection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tl::proj
