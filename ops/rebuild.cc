#include "ops/rebuild.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "ops/progress.h"
#include "projections/pg_sink.h"
#include "projections/projector.h"
#include "projections/redis_sink.h"

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
  auto swap = conn.Pipeline(
      {{"MULTI"}, {"SET", o.redis_prefix + "current", ns}, {"DEL", marker}, {"EXEC"}});
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
    return RebuildRedis(options, ledger);
  }
  if (options.postgres_url.empty()) {
    std::fprintf(stderr,
                 "ticketctl rebuild postgres: needs --postgres-url (or $TICKETD_POSTGRES_URL)\n");
    return 2;
  }
  return RebuildPostgres(options, ledger);
}

}  // namespace tl
