#include "ops/rebuild.h"

#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"
#include "engine/core/state.h"
#include "ops/progress.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/redis/redis_keys.h"
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
  Progress progress(label, 0);
  bool started = false;
  absl::Status st = projector.RunToEnd([&](uint64_t done, uint64_t total) {
    if (!started) {
      progress = Progress(label, total);
      started = true;
    }
    progress.Update(done);
  });
  progress.Finish();
  return st;
}

// Campaign `id`'s events among partition p's ledger records in
// [*from, to), sequences deduplicated (*next_seq carries across calls).
absl::Status CampaignEvents(EventLog* ledger, int p, const std::string& id, uint64_t* from,
                            uint64_t to, uint64_t* next_seq, std::vector<pb::Event>* out) {
  out->clear();
  std::vector<LogRecord> records;
  while (*from < to) {
    if (absl::Status st = ledger->Read(p, *from, 65536, &records); !st.ok()) return st;
    if (records.empty()) break;
    for (const LogRecord& r : records) {
      if (r.offset >= to) break;
      *from = r.offset + 1;
      pb::Event e;
      if (!e.ParseFromString(r.value))
        return absl::DataLossError(absl::StrCat("ledger offset ", r.offset, " does not decode"));
      if (e.sequence() < *next_seq) continue;
      *next_seq = e.sequence() + 1;
      if (e.campaign_id() == id) out->push_back(std::move(e));
    }
  }
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
      return Refuse("ledger", st);
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

// One campaign, Redis: its keys are built in namespace "rc" and renamed over
// the live ones in one MULTI/EXEC while the live checkpoint (WATCHed) is
// still the one the build stopped at.
int RebuildRedisCampaign(const RebuildOptions& o, EventLog* ledger) {
  absl::StatusOr<proj::RedisOptions> ro = proj::ParseRedisUrl(o.redis_url);
  if (!ro.ok()) return Refuse("--redis-url", ro.status());
  ro->prefix = o.redis_prefix;
  proj::RedisSink live(*ro);
  absl::StatusOr<std::string> current = live.CurrentNamespace();
  if (!current.ok()) return Refuse("redis unreachable", current.status());
  proj::RedisConnection& conn = live.connection();
  const int p = PartitionFor(o.campaign, ledger->partitions());
  const std::string scratch = "rc";
  const std::string live_base = proj::redis_keys::Base(o.redis_prefix, *current),
                    fresh_base = proj::redis_keys::Base(o.redis_prefix, scratch);
  const std::string current_key = proj::redis_keys::Current(o.redis_prefix);
  const std::vector<std::string> parts = {"rank", "status", "summary"};
  auto drop_fresh = [&] {
    std::vector<std::string> del = {"DEL", proj::redis_keys::CheckpointKey(fresh_base, p),
                                    proj::redis_keys::Campaigns(fresh_base)};
    for (const auto& part : parts)
      del.push_back(proj::redis_keys::Campaign(fresh_base, o.campaign, part));
    (void)conn.Pipeline({del});
  };
  auto swap = [&](const proj::Checkpoint& target) -> absl::StatusOr<bool> {
    const std::string ckpt_key = proj::redis_keys::CheckpointKey(live_base, p);
    auto w =
        conn.Pipeline({{"WATCH", ckpt_key, current_key}, {"GET", ckpt_key}, {"GET", current_key}});
    if (!w.ok()) return w.status();
    const std::string now = (*w)[1]->type == REDIS_REPLY_STRING
                                ? std::string((*w)[1]->str, (*w)[1]->len)
                                : proj::redis_keys::CheckpointValue(proj::Checkpoint{});
    if (now != proj::redis_keys::CheckpointValue(target) || (*w)[2]->type != REDIS_REPLY_STRING ||
        std::string((*w)[2]->str, (*w)[2]->len) != *current) {
      (void)conn.Pipeline({{"UNWATCH"}});
      return false;
    }
    std::vector<std::vector<std::string>> exists, swap = {{"MULTI"}};
    for (const auto& part : parts) {
      exists.push_back({"EXISTS", proj::redis_keys::Campaign(fresh_base, o.campaign, part)});
      swap.push_back({"DEL", proj::redis_keys::Campaign(live_base, o.campaign, part)});
    }
    auto found = conn.Pipeline(exists);
    if (!found.ok()) return found.status();
    for (size_t i = 0; i < parts.size(); ++i) {
      if ((*found)[i]->integer == 1)
        swap.push_back({"RENAME", proj::redis_keys::Campaign(fresh_base, o.campaign, parts[i]),
                        proj::redis_keys::Campaign(live_base, o.campaign, parts[i])});
    }
    swap.push_back({"EXEC"});
    auto done = conn.Pipeline(swap);
    if (!done.ok()) return done.status();
    return done->back()->type == REDIS_REPLY_ARRAY;  // nil: a watched key moved
  };
  drop_fresh();
  proj::RedisSink fresh(*ro, scratch, /*publish=*/false);
  return RebuildCampaign(o, ledger, &live, &fresh, "namespace " + fresh_base, swap, drop_fresh);
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
  auto swap = [&](const proj::Checkpoint& target) -> absl::StatusOr<bool> {
    bool moved = false;
    absl::Status st = live.Read([&](pqxx::work& tx) {
      auto row = tx.exec_params(
          "SELECT next_offset, next_sequence FROM checkpoints WHERE ledger_partition = $1 FOR "
          "UPDATE",
          p);
      proj::Checkpoint now;
      if (!row.empty()) now = {row[0][0].as<uint64_t>(), row[0][1].as<uint64_t>()};
      if (!(now == target)) {
        moved = true;
        return;
      }
      const std::string src = tx.quote_name(scratch);
      for (const char* table : {"entries", "stock_changes", "campaigns"}) {
        tx.exec_params(absl::StrCat("DELETE FROM ", table, " WHERE campaign = $1"), o.campaign);
        tx.exec_params(absl::StrCat("INSERT INTO ", table, " SELECT * FROM ", src, ".", table,
                                    " WHERE campaign = $1"),
                       o.campaign);
      }
      tx.commit();
    });
    if (!st.ok()) return st;
    return !moved;
  };
  return RebuildCampaign(o, ledger, &live, &fresh, "schema " + scratch, swap,
                         [&] { (void)fresh.DropSchema(scratch); });
}

int RebuildRedis(const RebuildOptions& o, EventLog* ledger) {
  absl::StatusOr<proj::RedisOptions> ro = proj::ParseRedisUrl(o.redis_url);
  if (!ro.ok()) return Refuse("--redis-url", ro.status());
  ro->prefix = o.redis_prefix;
  proj::RedisSink live(*ro);
  absl::StatusOr<std::string> current = live.CurrentNamespace();
  if (!current.ok()) return Refuse("redis unreachable", current.status());
  proj::RedisConnection& conn = live.connection();
  // The namespace under construction is remembered, so an interrupted
  // rebuild resumes into it.
  const std::string marker = o.redis_prefix + "rebuild";
  auto r = conn.Pipeline({{"GET", marker}});
  if (!r.ok()) return Refuse("redis", r.status());
  std::string ns;
  if ((*r)[0]->type == REDIS_REPLY_STRING) {
    ns = std::string((*r)[0]->str, (*r)[0]->len);
    std::fprintf(stderr, "resuming the rebuild into namespace %s\n", ns.c_str());
  } else {
    auto n = conn.Pipeline({{"INCR", o.redis_prefix + "rebuilds"}});
    if (!n.ok()) return Refuse("redis", n.status());
    ns = absl::StrCat("r", (*n)[0]->integer);
    auto set = conn.Pipeline({{"SET", marker, ns}});
    if (!set.ok()) return Refuse("redis", set.status());
  }
  proj::RedisSink fresh(*ro, ns, /*publish=*/false);
  if (absl::Status st = Fill(ledger, &fresh, "rebuild redis"); !st.ok())
    return Refuse("rebuild", st);
  // Drop a namespace's keys, SCAN by SCAN.
  auto drop = [&](const std::string& victim) -> absl::Status {
    std::string cursor = "0";
    do {
      auto s = conn.Pipeline(
          {{"SCAN", cursor, "MATCH", o.redis_prefix + victim + ":*", "COUNT", "1000"}});
      if (!s.ok()) return s.status();
      const redisReply* res = (*s)[0].get();
      cursor = std::string(res->element[0]->str, res->element[0]->len);
      std::vector<std::string> unlink = {"UNLINK"};
      for (size_t i = 0; i < res->element[1]->elements; ++i)
        unlink.emplace_back(res->element[1]->element[i]->str, res->element[1]->element[i]->len);
      if (unlink.size() > 1) {
        if (auto u = conn.Pipeline({unlink}); !u.ok()) return u.status();
      }
    } while (cursor != "0");
    return absl::OkStatus();
  };
  if (o.dry_run) {
    std::printf("dry run: namespace %s built from the ledger; not swapped in (readers keep %s)\n",
                ns.c_str(), current->c_str());
    if (absl::Status st = drop(ns); !st.ok()) return Refuse("redis", st);
    (void)conn.Pipeline({{"DEL", marker}});
    return 0;
  }
  // The swap: one MULTI/EXEC. The live projector's next batch finds the
  // namespace moved and goes on from the new namespace's checkpoints.
  auto swap = conn.Pipeline({{"MULTI"},
                             {"SET", proj::redis_keys::Current(o.redis_prefix), ns},
                             {"DEL", marker},
                             {"EXEC"}});
  if (!swap.ok() || swap->back()->type != REDIS_REPLY_ARRAY)
    return Refuse("redis swap", swap.ok() ? absl::InternalError("EXEC failed") : swap.status());
  std::printf("redis: namespace %s swapped in (was %s)\n", ns.c_str(), current->c_str());
  if (absl::Status st = drop(*current); !st.ok()) return Refuse("dropping the old namespace", st);
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
