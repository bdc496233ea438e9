// `ticketctl export --campaign ID [--out FILE]`: the campaign's ledger
// events as NDJSON (schemas/EXPORT.md), the same bytes GET
// /v1/campaigns/{id}/ledger serves page by page (engine/log/ledger_export.h).
// Reads the log read-only, so it runs beside a live ticketd.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/core/names.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/log/ledger_export.h"
#include "ops/ticketctl/progress.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct ExportArgs {
  std::string campaign, out, kafka_brokers;
};

// The ledger, and what keeps it open.
struct Ledger {
  std::unique_ptr<EmbeddedLogDb> db;
  std::unique_ptr<KafkaLog> kafka;
  EventLog* log = nullptr;
};

absl::Status OpenLedger(const Global& g, const ExportArgs& a, Ledger* l) {
  if (!a.kafka_brokers.empty()) {
    KafkaLogOptions ko;
    ko.brokers = a.kafka_brokers;
    ko.partitions = 0;  // adopt the topic's
    ko.topic = KafkaTopic(kLedgerLog);
    auto k = KafkaLog::Open(ko);
    if (!k.ok()) return k.status();
    l->kafka = std::move(*k);
    l->log = l->kafka.get();
    return absl::OkStatus();
  }
  if (absl::Status st = RequireDataDir(g); !st.ok()) return st;
  auto db = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions, Limits(), /*read_only=*/true);
  if (!db.ok()) return db.status();
  l->db = std::move(*db);
  l->log = l->db->ledger();
  return absl::OkStatus();
}

// Writes to FILE.partial and renames it to FILE once complete, so FILE is
// either the whole export or untouched; or to stdout.
class Output {
 public:
  absl::Status Open(const std::string& path) {
    path_ = path;
    if (path.empty()) {
      f_ = stdout;
      return absl::OkStatus();
    }
    partial_ = path + ".partial";
    f_ = std::fopen(partial_.c_str(), "wb");
    if (f_ == nullptr)
      return absl::NotFoundError(
          absl::StrCat("cannot write ", partial_, ": ", std::strerror(errno)));
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view s) {
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size())
      return absl::InternalError(absl::StrCat("write to ", where(), ": ", std::strerror(errno)));
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (std::fflush(f_) != 0)
      return absl::InternalError(absl::StrCat("write to ", where(), ": ", std::strerror(errno)));
    if (path_.empty()) return absl::OkStatus();
    FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0)
      return absl::InternalError(absl::StrCat("write to ", partial_, ": ", std::strerror(errno)));
    std::error_code ec;
    std::filesystem::rename(partial_, path_, ec);
    if (ec) return absl::InternalError(absl::StrCat("rename to ", path_, ": ", ec.message()));
    return absl::OkStatus();
  }
  ~Output() {
    if (!path_.empty() && f_ != nullptr) {
      std::fclose(f_);
      std::error_code ec;
      std::filesystem::remove(partial_, ec);
    }
  }

 private:
  std::string where() const { return path_.empty() ? "stdout" : partial_; }
  std::string path_, partial_;
  FILE* f_ = nullptr;
};

int Run(const Global& g, const ExportArgs& a) {
  Ledger ledger;
  if (absl::Status st = OpenLedger(g, a, &ledger); !st.ok()) return Fail(st);
  Output out;
  if (absl::Status st = out.Open(a.out); !st.ok()) return Fail(st);
  const int p = PartitionFor(a.campaign, ledger.log->partitions());
  ExportPage page;
  {
    Progress progress("exporting ledger");
    ExportOptions options;
    options.progress = [&](uint64_t done, uint64_t total) {
      progress.SetTotal(total);
      progress.Update(done);
    };
    absl::Status st = ExportLedger(
        ledger.log, p, a.campaign, ExportCursor{}, options,
        [&](absl::string_view line) { return out.Write(line); }, &page);
    progress.Finish();
    if (!st.ok()) return Fail(st);
  }
  if (!page.created)
    return Fail(absl::NotFoundError(
        absl::StrCat("no campaign ", a.campaign, " in the ledger (", page.lines,
                     " events name it, none created it); nothing was written to ",
                     a.out.empty() ? "a file" : a.out)));
  if (absl::Status st = out.Commit(); !st.ok()) return Fail(st);
  std::fprintf(stderr, "ticketctl: exported %llu events of campaign %s%s%s\n",
               static_cast<unsigned long long>(page.lines), a.campaign.c_str(),
               a.out.empty() ? "" : " to ", a.out.c_str());
  if (!page.revealed)
    std::fprintf(stderr,
                 "ticketctl: campaign %s has not revealed its seed: the export has no seed, so "
                 "nobody can check its draws yet (GET /v1/campaigns/%s/ledger refuses it with 409 "
                 "until the reveal)\n",
                 a.campaign.c_str(), a.campaign.c_str());
  return app::kExitOk;
}

}  // namespace

Verb AddExport(CLI::App& app, const Global& g) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a campaign's ledger events as NDJSON, one event per line in the protobuf JSON "
      "mapping (schemas/EXPORT.md): the same bytes as GET /v1/campaigns/{id}/ledger. Reads the "
      "log read-only (a running ticketd may hold it). Progress on stderr. Before the reveal it "
      "still writes the operator's copy and says it has no seed. Exit 0 written, 2 no such "
      "campaign or data dir, 1 the log or the file failed, 3 the ledger is damaged");
  cmd->add_option("--campaign", a->campaign, "The campaign to export")->required();
  cmd->add_option("--out", a->out,
                  "Write to this file (via FILE.partial, renamed when complete) instead of "
                  "stdout");
  cmd->add_option("--kafka-brokers", a->kafka_brokers,
                  "Read ticketledger.ledger from Kafka instead of --data-dir");
  return {cmd, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
