// `ticketctl audit`: prove (or refute) a drop from its ledger (ops/audit.h).
// Exit 0 clean, 3 a violation found, 2 nothing to audit or a bad flag, 1 the
// log could not be read to the end.
#include "ops/audit/audit.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>

#include "engine/core/names.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/log/kafka/kafka_log.h"
#include "ops/app/secrets.h"
#include "ops/ticketctl/progress.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct AuditArgs {
  std::string campaign, seed_file, kafka_brokers;
  bool json = false, no_determinism = false;
};

// The logs an audit reads, and what keeps them open.
struct Logs {
  std::unique_ptr<EmbeddedLogDb> db;
  std::unique_ptr<KafkaLog> kafka_ledger, kafka_commands;
  EventLog *ledger = nullptr, *commands = nullptr;
};

absl::Status OpenLogs(const Global& g, const std::string& brokers, Logs* logs) {
  if (!brokers.empty()) {
    KafkaLogOptions ko;
    ko.brokers = brokers;
    ko.partitions = 0;
    ko.topic = KafkaTopic(kLedgerLog);
    auto l = KafkaLog::Open(ko);
    if (!l.ok()) return l.status();
    logs->kafka_ledger = std::move(*l);
    ko.topic = KafkaTopic(kCommandsLog);
    auto c = KafkaLog::Open(ko);
    if (c.ok()) logs->kafka_commands = std::move(*c);
    logs->ledger = logs->kafka_ledger.get();
    logs->commands = logs->kafka_commands.get();
    return absl::OkStatus();
  }
  if (absl::Status st = RequireDataDir(g); !st.ok()) return st;
  // Read-only: a running ticketd keeps the data dir.
  auto opened = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions, Limits(), true);
  if (!opened.ok()) return opened.status();
  logs->db = std::move(*opened);
  logs->ledger = logs->db->ledger();
  logs->commands = logs->db->commands();
  return absl::OkStatus();
}

absl::Status ReadSeedFile(const AuditArgs& a, AuditOptions* o) {
  if (a.seed_file.empty()) return absl::OkStatus();
  if (a.campaign.empty()) return absl::InvalidArgumentError("--seed-file needs --campaign");
  std::ifstream f(a.seed_file);
  if (!f) return absl::NotFoundError("cannot read " + a.seed_file);
  std::string hex((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
  std::string raw;
  if (!FromHex(hex, &raw) || raw.size() != 32)
    return absl::InvalidArgumentError(a.seed_file +
                                      " must hold a 32-byte seed in hex (64 characters)");
  Seed s;
  std::copy(raw.begin(), raw.end(), s.begin());
  o->seeds[a.campaign] = s;
  return absl::OkStatus();
}

// The options from the flags. Without a seed secret (and without --dev)
// the audit runs and says determinism was not checked.
absl::StatusOr<AuditOptions> Options(const Global& g, const AuditArgs& a) {
  AuditOptions o;
  o.campaign = a.campaign;
  o.determinism = !a.no_determinism;
  if (absl::Status st = ReadSeedFile(a, &o); !st.ok()) return st;
  absl::StatusOr<std::string> given =
      app::ReadSecret(g.seed_secret_file, "TICKETLEDGER_SEED_SECRET");
  if (!given.ok()) return given.status();
  if (!given->empty() || g.dev) {
    absl::StatusOr<std::string> secret = SeedSecret(g);
    if (!secret.ok()) return secret.status();
    o.config.seed_secret = *secret;
    o.have_secret = true;  // a wrong one is detected and reported as such
  }
  return o;
}

int ExitCode(const AuditReport& report) {
  if (!report.error.empty()) return app::kExitFailure;
  return report.violations_total > 0 ? app::kExitData : app::kExitOk;
}

int CouldNot(const AuditArgs& a, const absl::Status& st) {
  const int rc = app::ExitCodeFor(st);
  if (a.json) {
    nlohmann::json j{{"exit_code", rc}, {"error", std::string(st.message())}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fprintf(stderr, "ticketctl audit: could not audit: %s\n",
                 std::string(st.message()).c_str());
  }
  return rc;
}

int Run(const Global& g, const AuditArgs& a) {
  absl::StatusOr<AuditOptions> o = Options(g, a);
  if (!o.ok()) return CouldNot(a, o.status());
  Logs logs;
  if (absl::Status st = OpenLogs(g, a.kafka_brokers, &logs); !st.ok()) return CouldNot(a, st);
  AuditReport report;
  {
    Progress progress("audit");
    report = Audit(logs.ledger, logs.commands, *o, [&](uint64_t done, uint64_t total) {
      progress.SetTotal(total);
      progress.Update(done);
    });
  }
  const int rc = ExitCode(report);
  if (a.json) {
    nlohmann::json j = RenderAuditJson(report);
    j["exit_code"] = rc;  // the process's, from the one exit-code table
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", RenderAuditText(report).c_str());
  }
  return rc;
}

}  // namespace

Verb AddAudit(CLI::App& app, const Global& g) {
  auto a = std::make_shared<AuditArgs>();
  CLI::App* audit = app.add_subcommand(
      "audit",
      "Replay the ledger (and the commands log) and prove the draw: seed against commitment, "
      "every draw re-derived, determinism, invariants, the win rate and the uniformity of the "
      "draw values; holds (each unit confirmed, given back or expired once, confirmations only "
      "in a live hold, expiries only at or after their deadline and in order), promotions "
      "(always the waitlist head, one per returned unit), the at-close selection and waitlist "
      "re-derived from the seed and the entropy value, the Merkle root of the entries, and "
      "whether at-close wins depend on arrival order (chi-square over arrival deciles); with "
      "items, per item: units never negative and balanced, every request filled whole or "
      "refused whole, per-item at-close draws, waitlists and promotions, choices first come "
      "first served among the admitted before their deadline, and the win rate per item. Exit 0 "
      "clean, 3 a violation found, 2 nothing to audit (no data dir) or a bad flag, 1 the log "
      "could not be read");
  audit->add_option("--campaign", a->campaign, "Audit one campaign (default: all)");
  audit->add_option("--seed-file", a->seed_file,
                    "File with the hex seed of an unrevealed --campaign (re-derives its draws)");
  audit->add_flag("--json", a->json, "Machine-readable report on stdout");
  audit->add_flag("--no-determinism", a->no_determinism, "Skip re-deciding the commands log");
  audit->add_option("--kafka-brokers", a->kafka_brokers,
                    "Read ticketledger.ledger and ticketledger.commands from Kafka instead of "
                    "--data-dir");
  return {audit, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
