#include "ops/rebuild.h"

#include <cstdio>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/core/names.h"
#include "engine/core/state.h"
#include "engine/log/ledger_reader.h"
#include "ops/ticketctl/progress.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/redis/redis_sink.h"

namespace tl {
namespace {

int Refuse(const std::string& what, const absl::Status& st) {
  std::fprintf(stderr, "ticketctl rebuild: %s: %s\n", what.c_str(),
               std::string(st.message()).c_str());
  return absl::IsUnavailable(st) || absl::IsInvalidArgument(st) || absl::IsPermissionDenied(st) ? 2
                                                                                                : 1;
}

absl::Status Fill(EventLog* ledger, proj::Sink* sink, const std::string& label) {
  std::fprintf(stderr, "%s: reading the ledger (%d partitions)\n", label.c_str(),
               ledger->partitions());
  proj::ProjectorOptions po;
  po.batch_records = 65536;  // fewer, larger transactions: nobody reads the fresh copy yet
  proj::Projector projector(ledger, sink, po);
  Progress progress(label);
  absl::Status st = projector.RunToEnd([&](uint64_t done, uint64_t total) {
    progress.SetTotal(total);
    progress.Update(done);
  });
  progress.Finish();
  return st;
}

// Campaign `id`'s events among partition p's ledger records in
// [*from, to), read by LedgerReader (*next_seq carries across calls).
absl::Status CampaignEvents(EventLog* ledger, int p, const std::string& id, uint64_t* from,
                            uint64_t to, uint64_t* next_seq, std::vector<pb::Event>* out) {
  out->clear();
  LedgerReader reader(ledger, p, {*from, *next_seq}, 65536);
  reader.ReadAhead(2, to);
  LedgerBatch batch;
  while (reader.position().offset < to) {
    if (absl::Status st = reader.Next(&batch, to); !st.ok()) return st;
    if (batch.read == 0) break;
    for (pb::Event& e : batch.events) {
      if (e.campaign_id() == id) out->push_back(std::move(e));
    }
  }
  *from = reader.position().offset;
  *next_seq = reader.position().next_sequence;
  return absl::OkStatus();
}

// The shape both one-campaign rebuilds share: bring `fresh` up to exactly
// the live checkpoint of the campaign's partition, then `swap(checkpoint)`
// — true: swapped; false: the projector moved on, so build the difference
// and try again. `drop_fresh` removes the scratch copy; `scratch` names it.
int RebuildCampaign(const RebuildOptions& o, EventLog* ledger, proj::Sink* live, proj::Sink* fresh,
                    const std::string& scratch,
                    const std::function<absl::StatusOr<bool>(const proj::Checkpoint&)>& swap,
                    const std::function<void()>& drop_fresh) {
  const std::string store = live->name();
  const int p = PartitionFor(o.campaign, ledger->partitions());
  proj::Checkpoint built;
  uint64_t read_from = 0, next_seq = 1, applied = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<proj::Checkpoint> ck;
    if (absl::Status st = live->Load(ledger->partitions(), &ck); !st.ok()) return Refuse(store, st);
    const proj::Checkpoint target = ck[p];
    std::vector<pb::Event> events;
    if (absl::Status st = CampaignEvents(ledger, p, o.campaign, &read_from, target.next_offset,
                                         &next_seq, &events);
        !st.ok())
      return Refuse(kLedgerLog, st);
    proj::Checkpoint to{target.next_offset, next_seq};
    if (absl::Status st = fresh->Apply(p, events, built, to); !st.ok()) return Refuse(store, st);
    built = to;
    applied += events.size();
    if (o.dry_run) {
      std::printf("dry run: campaign %s rebuilt from %llu events in %s; not swapped in\n",
                  o.campaign.c_str(), static_cast<unsigned long long>(applied), scratch.c_str());
      drop_fresh();
      return 0;
    }
    absl::StatusOr<bool> swapped = swap(target);
    if (!swapped.ok()) return Refuse(store, swapped.status());
    if (!*swapped) continue;
    drop_fresh();
    std::printf(
        "%s: campaign %s rebuilt from %llu events up to ledger offset %llu and swapped in\n",
        store.c_str(), o.campaign.c_str(), static_cast<unsigned long long>(applied),
        static_cast<unsigned long long>(target.next_offset));
    return 0;
  }
  drop_fresh();
  return Refuse(store, absl::AbortedError("the live projector kept moving; try again"));
}

// The live Redis sink of `o` and the namespace readers use now.
struct LiveRedis {
  std::unique_ptr<proj::RedisSink> sink;
  std::string current;
  proj::RedisOptions options;
};
int OpenRedis(const RebuildOptions& o, LiveRedis* out) {
  absl::StatusOr<proj::RedisOptions> ro = proj::ParseRedisUrl(o.redis_url);
  if (!ro.ok()) return Refuse("--redis-url", ro.status());
  ro->prefix = o.redis_prefix;
  out->options = *ro;
  out->sink = std::make_unique<proj::RedisSink>(*ro);
  absl::StatusOr<std::string> current = out->sink->CurrentNamespace();
  if (!current.ok()) return Refuse("redis unreachable", current.status());
  out->current = *current;
  return 0;
}

// One campaign, Redis: its keys are built in namespace "rc" and renamed over
// the live ones in one MULTI/EXEC while the live checkpoint (WATCHed) is
// still the one the build stopped at.
int RebuildRedisCampaign(const RebuildOptions& o, EventLog* ledger) {
  LiveRedis live;
  if (int rc = OpenRedis(o, &live); rc != 0) return rc;
  const int p = PartitionFor(o.campaign, ledger->partitions());
  const std::string scratch = "rc";
  auto drop_fresh = [&] { (void)live.sink->DropCampaign(scratch, o.campaign, p); };
  auto swap = [&](const proj::Checkpoint& target) {
    return live.sink->SwapCampaign(scratch, live.current, o.campaign, p, target);
  };
  drop_fresh();
  proj::RedisSink fresh(live.options, scratch, /*publish=*/false);
  return RebuildCampaign(o, ledger, live.sink.get(), &fresh,
                         "namespace " + o.redis_prefix + scratch, swap, drop_fresh);
}

// One campaign, PostgreSQL: its rows are built in schema <schema>_rc and
// replace the live rows in one transaction that holds the live checkpoint
// row (FOR UPDATE), so the projector waits and then goes on from there.
int RebuildPostgresCampaign(const RebuildOptions& o, EventLog* ledger) {
  const std::string scratch = o.postgres_schema + "_rc";
  proj::PgSink live(proj::PgOptions{o.postgres_url, o.postgres_schema});
  if (absl::Status st = live.Migrate(o.postgres_schema); !st.ok())
    return Refuse("postgres unreachable", st);
  proj::PgSink fresh(proj::PgOptions{o.postgres_url, scratch});
  if (absl::Status st = fresh.DropSchema(scratch); !st.ok()) return Refuse("postgres", st);
  if (absl::Status st = fresh.Migrate(scratch); !st.ok()) return Refuse("postgres", st);
  const int p = PartitionFor(o.campaign, ledger->partitions());
  auto swap = [&](const proj::Checkpoint& target) {
    return live.SwapCampaign(scratch, o.campaign, p, target);
  };
  return RebuildCampaign(o, ledger, &live, &fresh, "schema " + scratch, swap,
                         [&] { (void)fresh.DropSchema(scratch); });
}

int RebuildRedis(const RebuildOptions& o, EventLog* ledger) {
  LiveRedis live;
  if (int rc = OpenRedis(o, &live); rc != 0) return rc;
  // The namespace under construction is remembered, so an interrupted
  // rebuild resumes into it.
  bool resumed = false;
  absl::StatusOr<std::string> ns = live.sink->RebuildNamespace(&resumed);
  if (!ns.ok()) return Refuse("redis", ns.status());
  if (resumed) std::fprintf(stderr, "resuming the rebuild into namespace %s\n", ns->c_str());
  proj::RedisSink fresh(live.options, *ns, /*publish=*/false);
  if (absl::Status st = Fill(ledger, &fresh, "rebuild redis"); !st.ok())
    return Refuse("rebuild", st);
  if (o.dry_run) {
    std::printf("dry run: namespace %s built from the ledger; not swapped in (readers keep %s)\n",
                ns->c_str(), live.current.c_str());
    if (absl::Status st = live.sink->DropNamespace(*ns); !st.ok()) return Refuse("redis", st);
    (void)live.sink->ForgetRebuild();
    return 0;
  }
  if (absl::Status st = live.sink->SwapNamespace(*ns); !st.ok()) return Refuse("redis swap", st);
  std::printf("redis: namespace %s swapped in (was %s)\n", ns->c_str(), live.current.c_str());
  if (absl::Status st = live.sink->DropNamespace(live.current); !st.ok())
    return Refuse("dropping the old namespace", st);
  return 0;
}

int RebuildPostgres(const RebuildOptions& o, EventLog* ledger) {
  const std::string fresh_schema = o.postgres_schema + "_rebuild";
  proj::PgSink live(proj::PgOptions{o.postgres_url, o.postgres_schema});
  if (absl::Status st = live.Migrate(o.postgres_schema); !st.ok())
    return Refuse("postgres unreachable", st);
  proj::PgSink fresh(proj::PgOptions{o.postgres_url, fresh_schema});
  // An interrupted rebuild left fresh_schema with its checkpoints: Fill
  // resumes from them.
  if (absl::Status st = Fill(ledger, &fresh, "rebuild postgres"); !st.ok())
    return Refuse("rebuild", st);
  if (o.dry_run) {
    std::printf("dry run: schema %s built from the ledger; not swapped in\n", fresh_schema.c_str());
    if (absl::Status st = fresh.DropSchema(fresh_schema); !st.ok()) return Refuse("postgres", st);
    return 0;
  }
  if (absl::Status st = live.Swap(fresh_schema, o.postgres_schema); !st.ok())
    return Refuse("postgres swap", st);
  std::printf("postgres: schema %s rebuilt and swapped in\n", o.postgres_schema.c_str());
  return 0;
}

}  // namespace

int RunRebuild(const RebuildOptions& options, EventLog* ledger) {
  if (options.target == "redis") {
    if (options.redis_url.empty()) {
      std::fprintf(stderr, "ticketctl rebuild redis: needs --redis-url (or $TICKETD_REDIS_URL)\n");
      return 2;
    }
    return options.campaign.empty() ? RebuildRedis(options, ledger)
                                    : RebuildRedisCampaign(options, ledger);
  }
  if (options.postgres_url.empty()) {
    std::fprintf(stderr,
                 "ticketctl rebuild postgres: needs --postgres-url (or $TICKETD_POSTGRES_URL)\n");
    return 2;
  }
  return options.campaign.empty() ? RebuildPostgres(options, ledger)
                                  : RebuildPostgresCampaign(options, ledger);
}

}  // namespace tl
