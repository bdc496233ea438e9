// ticketctl: the admin CLI. Every verb has --help.
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/jwt.h"
#include "engine/core/fold.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/log/ledger_reader.h"
#include "engine/runtime/node.h"
#include "ops/audit/audit.h"
#include "ops/progress.h"
#include "ops/rebuild.h"
#include "ops/secrets.h"
#include "ops/simulate.h"

namespace tl {
namespace {

struct Global {
  std::string data_dir = "./ticketledger-data";
  int partitions = 1;
  std::string secret_file;
};

// The seed secret: --seed-secret-file, else $TICKETLEDGER_SEED_SECRET, else
// the development secret (with a warning).
absl::StatusOr<EngineConfig> LoadConfig(const Global& g) {
  EngineConfig config;
  absl::StatusOr<std::string> secret = ReadSecret(g.secret_file, "TICKETLEDGER_SEED_SECRET");
  if (!secret.ok()) return secret.status();
  config.seed_secret = *secret;
  if (config.seed_secret.empty()) {
    std::fprintf(stderr,
                 "ticketctl: using the development seed secret; set TICKETLEDGER_SEED_SECRET or "
                 "--seed-secret-file for a real drop\n");
    config.seed_secret = kDevSeedSecret;
  }
  if (config.seed_secret.size() < 16)
    return absl::InvalidArgumentError("the seed secret must be at least 16 bytes");
  return config;
}

absl::StatusOr<std::unique_ptr<Node>> OpenNode(const Global& g, const std::string& dir) {
  absl::StatusOr<EngineConfig> config = LoadConfig(g);
  if (!config.ok()) return config.status();
  NodeOptions options;
  options.data_dir = dir;
  options.partitions = g.partitions;
  options.config = *config;
  return Node::Open(options);
}

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "ticketctl: %s\n", std::string(st.message()).c_str());
  return absl::IsDataLoss(st) || absl::IsInternal(st) ? 3 : 1;
}

std::string Hex(const std::string& bytes) {
  return ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// One line per event, for people.
std::string Describe(const pb::Event& e) {
  std::string body;
  switch (e.body_case()) {
    case pb::Event::kCampaignCreated: {
      const auto& c = e.campaign_created().config();
      body = absl::StrFormat(
          "CampaignCreated stock=%d win_bps=%d rate=%d/s queueing=%s opens_at_ms=%d "
          "max_entries=%d commitment=%s",
          c.stock(), c.win_bps(), c.admission_rate_per_s(), pb::Queueing_Name(c.queueing()),
          c.opens_at_ms(), c.max_entries(), Hex(e.campaign_created().seed_commitment()));
      break;
    }
    case pb::Event::kQueueEntered:
      body = absl::StrFormat("QueueEntered user=%s position=%d", e.queue_entered().user_id(),
                             e.queue_entered().position());
      break;
    case pb::Event::kEntryPrequeued:
      body = absl::StrFormat("EntryPrequeued user=%s", e.entry_prequeued().user_id());
      break;
    case pb::Event::kEntryRejected:
      body = absl::StrFormat(
          "EntryRejected user=%s reason=%s detail=\"%s\"", e.entry_rejected().user_id(),
          pb::RejectReason_Name(e.entry_rejected().reason()), e.entry_rejected().detail());
      break;
    case pb::Event::kEntryAdmitted:
      body = absl::StrFormat("EntryAdmitted position=%d user=%s", e.entry_admitted().position(),
                             e.entry_admitted().user_id());
      break;
    case pb::Event::kDrawResolved:
      body =
          absl::StrFormat("DrawResolved position=%d user=%s outcome=%s value=%016x stock_left=%d",
                          e.draw_resolved().position(), e.draw_resolved().user_id(),
                          pb::Outcome_Name(e.draw_resolved().outcome()),
                          e.draw_resolved().draw_value(), e.draw_resolved().stock_left());
      break;
    case pb::Event::kStockChanged:
      body = absl::StrFormat(
          "StockChanged delta=%+d reason=%s stock_left=%d", e.stock_changed().delta(),
          pb::StockReason_Name(e.stock_changed().reason()), e.stock_changed().stock_left());
      break;
    case pb::Event::kEntryCancelled:
      body = absl::StrFormat("EntryCancelled user=%s position=%d", e.entry_cancelled().user_id(),
                             e.entry_cancelled().position());
      break;
    case pb::Event::kCampaignClosed:
      body = absl::StrFormat("CampaignClosed entries=%d", e.campaign_closed().entries());
      break;
    case pb::Event::kSeedRevealed:
      body = absl::StrFormat("SeedRevealed seed=%s", Hex(e.seed_revealed().seed()));
      break;
    case pb::Event::kAdmissionPaused:
      body = "AdmissionPaused";
      break;
    case pb::Event::kAdmissionResumed:
      body = "AdmissionResumed";
      break;
    case pb::Event::BODY_NOT_SET:
      body = "(unknown)";
      break;
  }
  return absl::StrFormat("#%-8d cmd@%-8d t=%d %s", e.sequence(), e.command_offset(), e.time_ms(),
                         body);
}

// Appends `cmd`, waits for the engine's answer and prints it. Exit 0 when
// the command was accepted, 1 when it was rejected.
int SubmitAndReport(const Global& g, pb::Command cmd) {
  auto node = OpenNode(g, g.data_dir);
  if (!node.ok()) return Fail(node.status());
  cmd.set_time_ms(static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));
  absl::StatusOr<CommandPosition> pos = (*node)->Submit(cmd);
  if (!pos.ok()) return Fail(pos.status());
  Engine& engine = (*node)->engine();
  engine.Start();
  absl::Status st = engine.WaitForCommands(pos->partition, pos->offset + 1, absl::Seconds(30));
  engine.Stop();
  if (!st.ok()) return Fail(st);
  std::vector<pb::Event> events;
  st = EventsForCommand((*node)->log().ledger(), pos->partition, pos->offset, &events);
  if (!st.ok()) return Fail(st);
  bool rejected = false;
  for (const pb::Event& e : events) {
    std::printf("%s\n", Describe(e).c_str());
    rejected |= e.has_entry_rejected();
  }
  return rejected ? 1 : 0;
}

int Replay(const Global& g, std::string out_dir) {
  absl::StatusOr<EngineConfig> config = LoadConfig(g);
  if (!config.ok()) return Fail(config.status());
  if (!std::filesystem::exists(g.data_dir + "/log")) {
    std::fprintf(stderr, "ticketctl: no ledger at %s/log\n", g.data_dir.c_str());
    return 2;
  }
  auto log = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions);
  if (!log.ok()) return Fail(log.status());
  bool temp = out_dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/ticketledger-replay-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail(absl::UnavailableError("mkdtemp failed"));
    out_dir = tmpl;
  } else if (std::filesystem::exists(out_dir) && !std::filesystem::is_empty(out_dir)) {
    std::fprintf(stderr, "ticketctl: --out %s is not empty\n", out_dir.c_str());
    return 2;
  }
  int rc = 0;
  {
    auto store = StateStore::Open(out_dir);
    if (!store.ok()) return Fail(store.status());
    std::vector<Hash> digests;
    uint64_t events = 0;
    for (int p = 0; p < g.partitions; ++p) {
      PartitionEngine pe(p, (*log)->commands(), (*log)->ledger(), store->get(), *config, Limits());
      Progress progress(absl::StrCat("replay partition ", p), 0);
      pe.on_progress = [&](uint64_t done, uint64_t end) {
        progress = Progress(absl::StrCat("replay partition ", p), end);
        progress.Update(done);
      };
      if (absl::Status st = pe.Recover(); !st.ok()) return Fail(st);
      progress.Finish();
      digests.push_back(pe.state().digest);
      events += pe.state().next_sequence - 1;
      std::printf("partition %d: %llu events, digest %s\n", p,
                  static_cast<unsigned long long>(pe.state().next_sequence - 1),
                  ToHex(pe.state().digest).c_str());
    }
    std::string digest = ToHex(CombinedDigest(digests));
    std::printf("replayed %llu events; digest %s\n", static_cast<unsigned long long>(events),
                digest.c_str());
    if (std::filesystem::exists(g.data_dir + "/state")) {
      auto live = StateStore::Open(g.data_dir + "/state");
      if (!live.ok()) return Fail(live.status());
      std::vector<Hash> live_digests;
      for (int p = 0; p < g.partitions; ++p) {
        auto cp = (*live)->ReadCheckpoint(p);
        if (!cp.ok()) return Fail(cp.status());
        Hash h{};
        if (cp->digest().size() == 32)
          std::copy(cp->digest().begin(), cp->digest().end(), h.begin());
        live_digests.push_back(h);
      }
      std::string live_digest = ToHex(CombinedDigest(live_digests));
      bool same = live_digest == digest;
      std::printf("engine checkpoint digest %s: %s\n", live_digest.c_str(),
                  same ? "identical"
                       : "DIFFERENT (the engine's state has not folded the whole "
                         "ledger yet, or it diverged)");
      rc = same ? 0 : 1;
    }
  }
  if (temp) std::filesystem::remove_all(out_dir);
  return rc;
}

int Inspect(const Global& g, const std::string& campaign, size_t n_events,
            const std::string& user) {
  auto node = OpenNode(g, g.data_dir);
  if (!node.ok()) return Fail(node.status());
  int p = PartitionFor(campaign, g.partitions);
  const CampaignState* c = (*node)->engine().partition(p).state().Find(campaign);
  if (c == nullptr) {
    std::fprintf(stderr, "ticketctl: no campaign %s in %s\n", campaign.c_str(), g.data_dir.c_str());
    return 1;
  }
  const auto& s = c->snap;
  const auto& cfg = s.config();
  std::printf("campaign %s  \"%s\"\n", campaign.c_str(), cfg.title().c_str());
  std::printf("  status       %s%s%s\n", s.closed() ? "closed" : "open",
              s.paused() ? ", admission paused" : "", s.revealed() ? ", seed revealed" : "");
  std::printf(
      "  config       stock=%llu win_bps=%u rate=%u/s queueing=%s opens_at_ms=%llu "
      "max_entries=%llu\n",
      (unsigned long long)cfg.stock(), cfg.win_bps(), cfg.admission_rate_per_s(),
      pb::Queueing_Name(cfg.queueing()).c_str(), (unsigned long long)cfg.opens_at_ms(),
      (unsigned long long)cfg.max_entries());
  std::printf("  commitment   %s\n", Hex(s.seed_commitment()).c_str());
  if (s.revealed()) std::printf("  seed         %s\n", ToHex(c->seed).c_str());
  std::printf("  queue        last position %llu, serving %llu, waiting %llu, pre-queued %llu\n",
              (unsigned long long)s.last_position(), (unsigned long long)s.serving(),
              (unsigned long long)c->waiting(), (unsigned long long)s.prequeued());
  std::printf("  outcomes     won %llu, lost %llu, sold_out %llu, cancelled %llu, rejected %llu\n",
              (unsigned long long)s.won(), (unsigned long long)s.lost(),
              (unsigned long long)s.sold_out(), (unsigned long long)s.cancelled(),
              (unsigned long long)s.rejected());
  std::printf("  stock        left %llu (initial %llu + restocked %llu)\n",
              (unsigned long long)s.stock_left(), (unsigned long long)cfg.stock(),
              (unsigned long long)s.restocked());
  if (!user.empty()) {
    auto it = c->position_of.find(user);
    if (it == c->position_of.end()) {
      std::printf("  user %s      no entry\n", user.c_str());
    } else if (it->second & kPrequeuedBit) {
      std::printf("  user %s      in the pre-queue\n", user.c_str());
    } else {
      static const char* kStatus[] = {"queued", "won", "lost", "sold_out", "cancelled"};
      uint64_t pos = it->second;
      std::printf("  user %s      position %llu, %s, people ahead %llu\n", user.c_str(),
                  (unsigned long long)pos, kStatus[static_cast<int>(c->status[pos - 1])],
                  (unsigned long long)(pos > s.serving() ? pos - s.serving() - 1 : 0));
    }
  }
  if (n_events == 0) return 0;
  EventLog* ledger = (*node)->log().ledger();
  absl::StatusOr<uint64_t> end = ledger->EndOffset(p);
  if (!end.ok()) return Fail(end.status());
  std::deque<std::string> last;
  LedgerReader reader(ledger, p, LedgerPosition{}, 4096);
  LedgerBatch batch;
  Progress progress("scanning ledger", *end);
  while (reader.position().offset < *end) {
    if (absl::Status st = reader.Next(&batch, *end); !st.ok()) return Fail(st);
    if (batch.read == 0) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch.records[i].key != campaign) continue;
      const pb::Event& e = batch.events[i];
      if (!user.empty()) {
        std::string line = Describe(e);
        if (line.find("user=" + user + " ") == std::string::npos &&
            !(line.size() >= user.size() + 5 && line.ends_with("user=" + user)))
          continue;
      }
      last.push_back(Describe(e));
      if (last.size() > n_events) last.pop_front();
    }
    progress.Update(reader.position().offset);
  }
  progress.Finish();
  std::printf("  last %zu events:\n", last.size());
  for (const auto& line : last) std::printf("    %s\n", line.c_str());
  return 0;
}

int RunAudit(const Global& g, const std::string& campaign, const std::string& seed_file,
             const std::string& kafka_brokers, bool json, bool no_determinism) {
  AuditOptions o;
  o.campaign = campaign;
  o.determinism = !no_determinism;
  auto cant = [&](const std::string& why) {
    if (json) {
      std::printf("%s\n", nlohmann::json{{"exit_code", 2}, {"error", why}}.dump(2).c_str());
    } else {
      std::fprintf(stderr, "ticketctl audit: could not audit: %s\n", why.c_str());
    }
    return 2;
  };
  if (!seed_file.empty()) {
    if (campaign.empty()) return cant("--seed-file needs --campaign");
    std::ifstream f(seed_file);
    std::string hex((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
    std::string raw;
    if (!f.good() && !f.eof()) return cant("cannot read " + seed_file);
    if (!FromHex(hex, &raw) || raw.size() != 32)
      return cant(seed_file + " must hold a 32-byte seed in hex (64 characters)");
    Seed s;
    std::copy(raw.begin(), raw.end(), s.begin());
    o.seeds[campaign] = s;
  }
  absl::StatusOr<EngineConfig> config = LoadConfig(g);
  if (!config.ok()) return cant(std::string(config.status().message()));
  o.config = *config;
  o.have_secret = true;  // a wrong one is detected and reported as such
  std::unique_ptr<EmbeddedLogDb> db;
  std::unique_ptr<KafkaLog> kafka_ledger, kafka_commands;
  EventLog *ledger = nullptr, *commands = nullptr;
  if (!kafka_brokers.empty()) {
    KafkaLogOptions ko;
    ko.brokers = kafka_brokers;
    ko.partitions = 0;
    ko.topic = "ticketledger.ledger";
    auto l = KafkaLog::Open(ko);
    if (!l.ok()) return cant(std::string(l.status().message()));
    kafka_ledger = std::move(*l);
    ko.topic = "ticketledger.commands";
    auto c = KafkaLog::Open(ko);
    if (c.ok()) kafka_commands = std::move(*c);
    ledger = kafka_ledger.get();
    commands = kafka_commands.get();
  } else {
    if (!std::filesystem::exists(g.data_dir + "/log"))
      return cant("no ticketledger log at " + g.data_dir + "/log");
    auto opened = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions, Limits(), true);
    if (!opened.ok()) return cant(std::string(opened.status().message()));
    db = std::move(*opened);
    ledger = db->ledger();
    commands = db->commands();
  }
  Progress progress("audit", 0);
  bool started = false;
  AuditReport report = Audit(ledger, commands, o, [&](uint64_t done, uint64_t total) {
    if (!started) {
      progress = Progress("audit", total);
      started = true;
    }
    progress.Update(done);
  });
  progress.Finish();
  if (json) {
    std::printf("%s\n", RenderAuditJson(report).dump(2).c_str());
  } else {
    std::printf("%s", RenderAuditText(report).c_str());
  }
  return report.ExitCode();
}

}  // namespace
}  // namespace tl

int main(int argc, char** argv) {
  using namespace tl;
  CLI::App app{"ticketctl: the ticketledger admin CLI (campaigns, simulate, replay, inspect)"};
  app.require_subcommand(1);
  Global g;
  app.add_option("--data-dir", g.data_dir, "Data directory of a single-node ticketledger")
      ->capture_default_str();
  app.add_option("--partitions", g.partitions,
                 "Log partitions (fixed when the data dir is created)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seed-secret-file", g.secret_file,
                 "File holding the engine's seed secret (else $TICKETLEDGER_SEED_SECRET, else a "
                 "development secret)");

  // campaign ...
  auto* campaign = app.add_subcommand("campaign", "Create and steer campaigns");
  campaign->require_subcommand(1);
  std::string id;
  pb::Command cmd;
  auto* create = campaign->add_subcommand("create", "Create a campaign (a drop or a lottery)");
  create->add_option("id", id, "Campaign id: 1..64 of [A-Za-z0-9._-]")->required();
  uint64_t stock = 0, opens_at = 0, max_entries = 0;
  uint32_t win_bps = 10000, rate = 0;
  std::string title, queueing = "fifo";
  create->add_option("--stock", stock, "Units on sale")->required();
  create
      ->add_option("--win-bps", win_bps,
                   "Win probability in basis points (10000 = first come, first served)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  create->add_option("--rate", rate, "Admission rate, positions per second (0 = at once)")
      ->capture_default_str();
  create->add_option("--queueing", queueing, "fifo or random (pre-queue until --opens-at-ms)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fifo", "random"}));
  create->add_option("--opens-at-ms", opens_at, "Opening time, unix ms (0 = now)");
  create->add_option("--max-entries", max_entries, "Entry cap (0 = engine default)");
  create->add_option("--title", title, "Human-readable title");
  create->callback([&] {
    auto* c = cmd.mutable_create_campaign();
    c->set_stock(stock);
    c->set_win_bps(win_bps);
    c->set_admission_rate_per_s(rate);
    c->set_queueing(queueing == "random" ? pb::QUEUEING_RANDOM : pb::QUEUEING_FIFO);
    c->set_opens_at_ms(opens_at);
    c->set_max_entries(max_entries);
    c->set_title(title);
  });
  auto* close =
      campaign->add_subcommand("close", "Stop taking entries (queued positions are still served)");
  close->add_option("id", id, "Campaign id")->required();
  close->callback([&] { cmd.mutable_close_campaign(); });
  auto* reveal =
      campaign->add_subcommand("reveal", "Publish the draw seed (after close, once drained)");
  reveal->add_option("id", id, "Campaign id")->required();
  reveal->callback([&] { cmd.mutable_reveal_seed(); });
  auto* restock = campaign->add_subcommand("restock", "Add units to stock");
  restock->add_option("id", id, "Campaign id")->required();
  uint64_t units = 0;
  restock->add_option("--units", units, "Units to add (> 0)")->required();
  restock->callback([&] { cmd.mutable_restock()->set_units(units); });
  auto* pause = campaign->add_subcommand("pause", "Stop the serving counter");
  pause->add_option("id", id, "Campaign id")->required();
  pause->callback([&] { cmd.mutable_pause_admission(); });
  auto* resume = campaign->add_subcommand("resume", "Move the serving counter again");
  resume->add_option("id", id, "Campaign id")->required();
  resume->callback([&] { cmd.mutable_resume_admission(); });

  // simulate
  SimulateOptions so;
  std::string sim_dir;
  bool keep = false;
  auto* sim = app.add_subcommand(
      "simulate",
      "Run a whole drop on the embedded log from a virtual clock; print outcomes, "
      "the observed rate, the digest and entries/s");
  sim->add_option("--sim-dir", sim_dir, "Data dir for the run (default: a fresh temporary dir)");
  sim->add_option("--campaign", so.campaign, "Campaign id")->capture_default_str();
  sim->add_option("--users", so.users, "Users who enter")->capture_default_str();
  sim->add_option("--stock", so.stock, "Stock")->capture_default_str();
  sim->add_option("--win-bps", so.win_bps, "Win probability in basis points")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  sim->add_option("--rate", so.rate, "Admission rate per second (0 = at once)")
      ->capture_default_str();
  sim->add_option("--queueing", so.queueing, "fifo or random")->capture_default_str();
  sim->add_option("--arrival-ms", so.arrival_ms, "Users arrive evenly over this many virtual ms")
      ->capture_default_str();
  sim->add_option("--tick-ms", so.tick_ms, "Waiting-room tick interval (virtual ms)")
      ->capture_default_str();
  sim->add_option("--start-ms", so.start_ms, "Virtual clock start, unix ms")->capture_default_str();
  sim->add_option("--batch", so.batch, "Commands per durable append")->capture_default_str();
  sim->add_flag("--resume", so.resume, "Continue a run whose data dir already holds commands");
  sim->add_flag("--print-acks", so.print_acks, "Print 'acked N' after each durable append");
  sim->add_flag("--keep", keep, "Keep the temporary data dir");

  // replay
  std::string replay_out;
  auto* replay = app.add_subcommand(
      "replay",
      "Fold the ledger into a fresh state store and print the digest; compare it with "
      "the engine's checkpoint (exit 1 if they differ)");
  replay->add_option("--out", replay_out,
                     "Where to build the state (default: a temporary dir, removed)");

  // inspect
  std::string inspect_id, inspect_user;
  size_t n_events = 20;
  auto* inspect = app.add_subcommand("inspect", "Show a campaign's state and its latest events");
  inspect->add_option("id", inspect_id, "Campaign id")->required();
  inspect->add_option("--events", n_events, "How many of the latest events to show")
      ->capture_default_str();
  inspect->add_option("--user", inspect_user, "Show this user's entry and events only");

  // token
  std::string token_user, jwt_secret_file;
  bool token_admin = false;
  int64_t token_ttl_s = 3600;
  auto* token = app.add_subcommand(
      "token",
      "Mint a development JWT (HS256) from the api's secret "
      "($TICKETD_JWT_SECRET or --jwt-secret-file; ticketd --dev's secret otherwise)");
  token->add_option("--user", token_user, "The user (the token's sub)")->required();
  token->add_flag("--admin", token_admin, "Add role admin (admin routes)");
  token->add_option("--ttl-s", token_ttl_s, "Lifetime in seconds")->capture_default_str();
  token->add_option("--jwt-secret-file", jwt_secret_file, "File holding the JWT secret");
  uint64_t token_count = 0;
  token->add_option("--count", token_count,
                    "Mint this many tokens, one per line, for users <user>-0 .. <user>-(N-1) "
                    "(load tests)");

  // kafka-mock
  int mock_brokers = 1;
  std::vector<std::string> mock_topics = {"ticketledger.commands:4", "ticketledger.ledger:4"};
  auto* kafka_mock = app.add_subcommand(
      "kafka-mock",
      "Development only: serve librdkafka's mock Kafka cluster on loopback (the real wire "
      "protocol, in memory, not exactly-once), print its bootstrap servers, run until "
      "SIGINT/SIGTERM");
  kafka_mock->add_option("--brokers", mock_brokers, "Mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  kafka_mock
      ->add_option("--topic", mock_topics,
                   "Topics to create, as name:partitions (the mock cannot CreateTopics)")
      ->capture_default_str();

  // audit
  std::string audit_campaign, audit_seed_file, audit_kafka;
  bool audit_json = false, audit_no_determinism = false;
  auto* audit = app.add_subcommand(
      "audit",
      "Replay the ledger (and the commands log) and prove the draw: seed against commitment, "
      "every draw re-derived, determinism, invariants, the win rate and the uniformity of the "
      "draw values. Exit 0 clean, 1 a violation found, 2 could not audit");
  audit->add_option("--campaign", audit_campaign, "Audit one campaign (default: all)");
  audit->add_option("--seed-file", audit_seed_file,
                    "File with the hex seed of an unrevealed --campaign (re-derives its draws)");
  audit->add_flag("--json", audit_json, "Machine-readable report on stdout");
  audit->add_flag("--no-determinism", audit_no_determinism, "Skip re-deciding the commands log");
  audit->add_option("--kafka-brokers", audit_kafka,
                    "Read ticketledger.ledger and ticketledger.commands from Kafka instead of "
                    "--data-dir");

  // rebuild
  RebuildOptions rb;
  std::string rebuild_kafka;
  auto* rebuild = app.add_subcommand(
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
  rebuild->add_option("--kafka-brokers", rebuild_kafka,
                      "Read the ledger from Kafka (topic ticketledger.ledger) instead of "
                      "--data-dir");

  CLI11_PARSE(app, argc, argv);

  if (audit->parsed())
    return RunAudit(g, audit_campaign, audit_seed_file, audit_kafka, audit_json,
                    audit_no_determinism);
  if (rebuild->parsed()) {
    std::unique_ptr<EmbeddedLogDb> db;
    std::unique_ptr<KafkaLog> kafka;
    EventLog* ledger = nullptr;
    if (!rebuild_kafka.empty()) {
      KafkaLogOptions ko;
      ko.brokers = rebuild_kafka;
      ko.topic = "ticketledger.ledger";
      ko.partitions = 0;
      auto opened = KafkaLog::Open(ko);
      if (!opened.ok()) return Fail(opened.status());
      kafka = std::move(*opened);
      ledger = kafka.get();
    } else {
      // Read-only: a running ticketd keeps the data dir.
      auto opened = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions, Limits(), true);
      if (!opened.ok()) return Fail(opened.status());
      db = std::move(*opened);
      ledger = db->ledger();
    }
    return RunRebuild(rb, ledger);
  }

  if (kafka_mock->parsed()) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // the host handle has no brokers
    rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (host == nullptr) return Fail(absl::UnavailableError(err));
    rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, mock_brokers);
    if (mock == nullptr) return Fail(absl::UnavailableError("cannot start the mock cluster"));
    for (const std::string& t : mock_topics) {
      size_t colon = t.rfind(':');
      int parts = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(t.substr(colon + 1), &parts) || parts < 1)
        return Fail(absl::InvalidArgumentError("--topic wants name:partitions, e.g. t:4"));
      rd_kafka_mock_topic_create(mock, t.substr(0, colon).c_str(), parts, mock_brokers);
    }
    std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mock));
    std::fflush(stdout);
    std::fprintf(stderr, "ticketctl: mock Kafka cluster of %d broker(s) up; Ctrl-C stops it\n",
                 mock_brokers);
    int sig = 0;
    sigwait(&signals, &sig);
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(host);
    return 0;
  }

  if (token->parsed()) {
    absl::StatusOr<std::string> secret = ReadSecret(jwt_secret_file, "TICKETD_JWT_SECRET");
    if (!secret.ok()) return Fail(secret.status());
    if (secret->empty()) {
      std::fprintf(stderr, "ticketctl: no TICKETD_JWT_SECRET; minting for ticketd --dev\n");
      *secret = kDevJwtSecret;
    }
    if (absl::Status st = ValidateUserId(token_user, Limits()); !st.ok()) return Fail(st);
    api::Claims claims{token_user, token_admin, absl::ToUnixSeconds(absl::Now()) + token_ttl_s};
    if (token_count == 0) {
      std::printf("%s\n", api::MintJwt(claims, *secret).c_str());
      return 0;
    }
    for (uint64_t i = 0; i < token_count; ++i) {
      claims.sub = absl::StrCat(token_user, "-", i);
      std::printf("%s\n", api::MintJwt(claims, *secret).c_str());
    }
    return 0;
  }

  if (campaign->parsed()) {
    cmd.set_campaign_id(id);
    return SubmitAndReport(g, cmd);
  }
  if (sim->parsed()) {
    bool temp = sim_dir.empty();
    if (temp) {
      char tmpl[] = "/tmp/ticketledger-sim-XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return Fail(absl::UnavailableError("mkdtemp failed"));
      sim_dir = tmpl;
    }
    int rc;
    {
      auto node = OpenNode(g, sim_dir);
      if (!node.ok()) return Fail(node.status());
      rc = RunSimulate(**node, so);
    }
    if (temp && !keep) {
      std::filesystem::remove_all(sim_dir);
    } else {
      std::printf("  data dir   %s\n", sim_dir.c_str());
    }
    return rc;
  }
  if (replay->parsed()) return Replay(g, replay_out);
  if (inspect->parsed()) return Inspect(g, inspect_id, n_events, inspect_user);
  return 0;
}
