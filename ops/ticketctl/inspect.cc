// `ticketctl inspect <id>`: a campaign's state from the engine's fold, a
// user's entry, and its latest events from the ledger.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/names.h"
#include "engine/log/ledger_reader.h"
#include "ops/ticketctl/describe.h"
#include "ops/ticketctl/progress.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct InspectArgs {
  std::string id, user;
  size_t events = 20;
};

using ull = unsigned long long;

void PrintState(const std::string& id, const CampaignState& c) {
  const auto& s = c.snap;
  const auto& cfg = s.config();
  std::printf("campaign %s  \"%s\"\n", id.c_str(), cfg.title().c_str());
  std::printf("  status       %s%s%s\n", s.closed() ? "closed" : "open",
              s.paused() ? ", admission paused" : "", s.revealed() ? ", seed revealed" : "");
  std::printf(
      "  config       stock=%llu win_bps=%u rate=%u/s queueing=%s opens_at_ms=%llu "
      "max_entries=%llu hold_s=%u draw=%s\n",
      (ull)cfg.stock(), cfg.win_bps(), cfg.admission_rate_per_s(),
      pb::Queueing_Name(cfg.queueing()).c_str(), (ull)cfg.opens_at_ms(), (ull)cfg.max_entries(),
      cfg.hold_s(), DrawName(cfg.draw()));
  if (!cfg.entropy_source().empty())
    std::printf("  entropy      source \"%s\"%s%s%s\n", cfg.entropy_source().c_str(),
                s.closed() ? ", value \"" : "", s.closed() ? s.entropy_value().c_str() : "",
                s.closed() ? "\"" : "");
  std::printf("  commitment   %s\n", ToHex(std::string_view(s.seed_commitment())).c_str());
  if (s.revealed()) std::printf("  seed         %s\n", ToHex(c.seed).c_str());
  std::printf("  queue        last position %llu, serving %llu, waiting %llu, pre-queued %llu\n",
              (ull)s.last_position(), (ull)s.serving(), (ull)c.waiting(), (ull)s.prequeued());
  std::printf("  outcomes     won %llu, lost %llu, sold_out %llu, cancelled %llu, rejected %llu\n",
              (ull)s.won(), (ull)s.lost(), (ull)s.sold_out(), (ull)s.cancelled(),
              (ull)s.rejected());
  std::printf("  stock        left %llu (initial %llu + restocked %llu)\n", (ull)s.stock_left(),
              (ull)cfg.stock(), (ull)s.restocked());
  if (cfg.hold_s() > 0 || c.at_close() || s.confirmed() > 0) {
    std::printf(
        "  holds        live %zu%s, confirmed %llu, expired %llu\n", c.hold_until.size(),
        c.hold_order.empty()
            ? ""
            : absl::StrFormat(" (next deadline %llu ms)", (ull)c.hold_order.begin()->first).c_str(),
        (ull)s.confirmed(), (ull)s.expired());
  }
  if (c.at_close() && s.closed())
    std::printf("  waitlist     %llu drawn, %llu promoted, %llu waiting\n", (ull)s.waitlisted(),
                (ull)s.promoted(), (ull)(s.waitlisted() - s.promoted()));
  // Items (issue 15): places left and counters per item, in units.
  if (c.items() > 0) {
    std::printf("  items        %d, choose %s%s, per-user max %u\n", cfg.items_size(),
                ChooseName(cfg.choose()),
                c.on_admission() ? absl::StrCat(" within ", cfg.choose_s(), " s").c_str() : "",
                cfg.per_user_max() == 0 ? 1u : cfg.per_user_max());
    for (int i = 0; i < cfg.items_size(); ++i) {
      const pb::Item& it = cfg.items(i);
      const pb::ItemCounters& n = s.items(i);
      std::printf(
          "    %-12s %-20s stock %llu, left %llu, taken %llu, returned %llu, restocked %llu, "
          "confirmed %llu, waitlisted %llu, promoted %llu, per-user max %u\n",
          it.id().c_str(), it.label().c_str(), (ull)it.stock(), (ull)n.stock_left(), (ull)n.taken(),
          (ull)n.returned(), (ull)n.restocked(), (ull)n.confirmed(), (ull)n.waitlisted(),
          (ull)n.promoted(), c.QuantityMax(static_cast<size_t>(i)));
    }
    if (c.on_admission())
      std::printf("  choices      %llu admitted choosing, %llu chosen, %llu expired\n",
                  (ull)s.admitted_choosing(), (ull)s.chosen(), (ull)s.choices_expired());
  }
  if (!s.merkle_root().empty())
    std::printf("  receipts     Merkle root %s over %llu entries\n",
                ToHex(std::string_view(s.merkle_root())).c_str(), (ull)s.merkle_leaves());
}

void PrintUser(const CampaignState& c, const std::string& user) {
  auto it = c.position_of.find(user);
  if (it == c.position_of.end()) {
    std::printf("  user %s      no entry\n", user.c_str());
  } else if (it->second & kPrequeuedBit) {
    std::printf("  user %s      in the pre-queue\n", user.c_str());
  } else {
    const uint64_t pos = it->second;
    const uint64_t serving = c.snap.serving();
    std::printf("  user %s      position %llu, %s, people ahead %llu\n", user.c_str(), (ull)pos,
                EntryStatusName(c.status[pos - 1]), (ull)(pos > serving ? pos - serving - 1 : 0));
    if (uint64_t hold = c.HoldOf(pos); hold != 0)
      std::printf("  user %s      holds a unit until %llu ms (pass %s)\n", user.c_str(), (ull)hold,
                  PassId(c.snap.campaign_id(), pos).c_str());
    if (c.items() > 0 && c.item_of[pos - 1] != 0)
      std::printf("  user %s      item %s, quantity %u\n", user.c_str(),
                  c.snap.config().items(static_cast<int>(c.ItemAt(pos))).id().c_str(),
                  c.QuantityAt(pos));
    if (auto d = c.choose_until.find(pos); d != c.choose_until.end())
      std::printf("  user %s      may choose until %llu ms\n", user.c_str(), (ull)d->second);
    if (c.status[pos - 1] == EntryStatus::kWaitlisted) {
      const std::vector<uint64_t>& wl = c.WaitlistOf(c.ItemAt(pos));
      const uint64_t promoted = c.PromotedOf(c.ItemAt(pos));
      auto at = std::find(wl.begin(), wl.end(), pos);
      std::printf("  user %s      waitlist rank %llu\n", user.c_str(),
                  (ull)(at - wl.begin() + 1 - static_cast<long>(promoted)));
    }
  }
}

bool MentionsUser(const std::string& line, const std::string& user) {
  const std::string tag = "user=" + user;
  return line.find(tag + " ") != std::string::npos || line.ends_with(tag);
}

// The campaign's last `a.events` events (of `a.user` when given).
absl::Status PrintEvents(EventLog* ledger, int p, const InspectArgs& a) {
  absl::StatusOr<uint64_t> end = ledger->EndOffset(p);
  if (!end.ok()) return end.status();
  std::deque<std::string> last;
  LedgerReader reader(ledger, p, LedgerPosition{}, 4096);
  reader.ReadAhead(2, *end);
  LedgerBatch batch;
  Progress progress("scanning ledger", *end);
  while (reader.position().offset < *end) {
    if (absl::Status st = reader.Next(&batch, *end); !st.ok()) return st;
    if (batch.read == 0) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch.records[i].key != a.id) continue;
      std::string line = Describe(batch.events[i]);
      if (!a.user.empty() && !MentionsUser(line, a.user)) continue;
      last.push_back(std::move(line));
      if (last.size() > a.events) last.pop_front();
    }
    progress.Update(reader.position().offset);
  }
  progress.Finish();
  std::printf("  last %zu events:\n", last.size());
  for (const auto& line : last) std::printf("    %s\n", line.c_str());
  return absl::OkStatus();
}

int Run(const Global& g, const InspectArgs& a) {
  if (absl::Status st = RequireDataDir(g); !st.ok()) return Fail(st);
  auto node = OpenNode(g, g.data_dir);
  if (!node.ok()) return Fail(node.status());
  const int p = PartitionFor(a.id, g.partitions);
  const CampaignState* c = (*node)->engine().partition(p).state().Find(a.id);
  if (c == nullptr)
    return Fail(absl::NotFoundError(absl::StrCat("no campaign ", a.id, " in ", g.data_dir)));
  PrintState(a.id, *c);
  if (!a.user.empty()) PrintUser(*c, a.user);
  if (a.events == 0) return app::kExitOk;
  if (absl::Status st = PrintEvents((*node)->log().ledger(), p, a); !st.ok()) return Fail(st);
  return app::kExitOk;
}

}  // namespace

Verb AddInspect(CLI::App& app, const Global& g) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* inspect =
      app.add_subcommand("inspect", "Show a campaign's state and its latest events");
  inspect->add_option("id", a->id, "Campaign id")->required();
  inspect->add_option("--events", a->events, "How many of the latest events to show")
      ->capture_default_str();
  inspect->add_option("--user", a->user, "Show this user's entry and events only");
  return {inspect, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
