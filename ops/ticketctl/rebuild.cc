// `ticketctl rebuild redis|postgres`: recreate a read model from the ledger
// (ops/rebuild.h) read from --data-dir (read-only) or from Kafka.
#include "ops/rebuild.h"

#include <memory>

#include "engine/core/names.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/log/kafka/kafka_log.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct RebuildArgs {
  RebuildOptions options;
  std::string kafka_brokers;
};

int Run(const Global& g, const RebuildArgs& a) {
  std::unique_ptr<EmbeddedLogDb> db;
  std::unique_ptr<KafkaLog> kafka;
  EventLog* ledger = nullptr;
  if (!a.kafka_brokers.empty()) {
    KafkaLogOptions ko;
    ko.brokers = a.kafka_brokers;
    ko.topic = KafkaTopic(kLedgerLog);
    ko.partitions = 0;
    auto opened = KafkaLog::Open(ko);
    if (!opened.ok()) return Fail(opened.status());
    kafka = std::move(*opened);
    ledger = kafka.get();
  } else {
    if (absl::Status st = RequireDataDir(g); !st.ok()) return Fail(st);
    // Read-only: a running ticketd keeps the data dir.
    auto opened = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions, Limits(), true);
    if (!opened.ok()) return Fail(opened.status());
    db = std::move(*opened);
    ledger = db->ledger();
  }
  return RunRebuild(a.options, ledger);
}

}  // namespace

Verb AddRebuild(CLI::App& app, const Global& g) {
  auto a = std::make_shared<RebuildArgs>();
  RebuildOptions& rb = a->options;
  CLI::App* rebuild = app.add_subcommand(
      "rebuild",
      "Recreate a read model (redis or postgres) from the ledger in a fresh namespace/schema, "
      "then swap it in atomically; resumes an interrupted rebuild");
  rebuild->add_option("target", rb.target, "redis or postgres")
      ->required()
      ->check(CLI::IsMember({"redis", "postgres"}));
  rebuild->add_option("--redis-url", rb.redis_url, "redis://[:password@]host[:port][/db]")
      ->envname("TICKETD_REDIS_URL");
  rebuild->add_option("--redis-prefix", rb.redis_prefix, "Key prefix")
      ->envname("TICKETD_REDIS_PREFIX")
      ->capture_default_str();
  rebuild->add_option("--postgres-url", rb.postgres_url, "libpq URI or connection string")
      ->envname("TICKETD_POSTGRES_URL");
  rebuild->add_option("--postgres-schema", rb.postgres_schema, "Live schema")
      ->envname("TICKETD_POSTGRES_SCHEMA")
      ->capture_default_str();
  rebuild->add_option("--campaign", rb.campaign,
                      "Rebuild only this campaign, up to the live projector's checkpoint, and swap "
                      "its keys/rows in atomically");
  rebuild->add_flag("--dry-run", rb.dry_run,
                    "Build the fresh copy and report, then drop it; readers keep the live one");
  rebuild->add_option("--kafka-brokers", a->kafka_brokers,
                      "Read the ledger from Kafka (topic ticketledger.ledger) instead of "
                      "--data-dir");
  return {rebuild, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
