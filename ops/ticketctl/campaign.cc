// `ticketctl campaign create|close|reveal|restock|pause|resume`: append one
// command to the data dir's commands log, let the engine decide it, print
// the events it produced. `campaign seed` prints the operator's copy of a seed.
#include <cstdio>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/core/draw.h"
#include "engine/core/hash.h"
#include "engine/core/limits.h"
#include "engine/core/names.h"
#include "engine/log/command_log.h"
#include "ops/ticketctl/describe.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct CampaignArgs {
  std::string id;
  pb::Command cmd;
  uint64_t stock = 0, opens_at_ms = 0, max_entries = 0, units = 0;
  uint32_t win_bps = 10000, rate = 0, hold_s = 0;
  std::string title, queueing = kFifo, draw = kInstant, entropy_source, entropy_value;
  std::vector<std::string> items;  // ID:LABEL:STOCK[:MAX]
  std::string item;                // restock --item
  uint32_t per_user_max = 0, choose_s = 0;
  std::string choose;
  bool print_seed = false;
};

// Exit 0 when the command was accepted, 1 when it was rejected.
int SubmitAndReport(const Global& g, pb::Command cmd) {
  if (!cmd.has_create_campaign()) {
    if (absl::Status st = RequireDataDir(g); !st.ok()) return Fail(st);
  } else {
    absl::StatusOr<std::string> nonce = NewSeedNonce();
    if (!nonce.ok()) return Fail(nonce.status());
    cmd.mutable_create_campaign()->set_seed_nonce(*std::move(nonce));
  }
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
  return rejected ? app::kExitFailure : app::kExitOk;
}

// `campaign seed ID`: the operator's copy of a campaign's draw seed, in hex,
// as the engine derives it (the secret and the campaign's nonce, draw.h).
// `audit --campaign ID --seed-file` re-derives an unrevealed campaign's
// draws with it. Exit 2 when there is no such campaign.
int PrintSeed(const Global& g, const std::string& id) {
  if (absl::Status st = RequireDataDir(g); !st.ok()) return Fail(st);
  auto node = OpenNode(g, g.data_dir);
  if (!node.ok()) return Fail(node.status());
  Engine& engine = (*node)->engine();
  const int p = PartitionFor(id, engine.partitions());
  absl::StatusOr<uint64_t> end = (*node)->log().commands()->EndOffset(p);
  if (!end.ok()) return Fail(end.status());
  engine.Start();  // recovers the partition's state (and decides what waits)
  absl::Status st = engine.WaitForCommands(p, *end, absl::Seconds(30));
  std::optional<Seed> seed;
  engine.WithState(p, [&](const EngineState& s, uint64_t) {
    if (const CampaignState* c = s.Find(id)) seed = c->seed;
  });
  engine.Stop();
  if (!st.ok()) return Fail(st);
  if (!seed) return Fail(absl::NotFoundError(absl::StrCat("no campaign ", id)));
  std::printf("%s\n", ToHex(*seed).c_str());
  return app::kExitOk;
}

// --item ID:LABEL:STOCK[:MAX]. A label may hold ':' (a time slot): with
// four or more parts whose last two are numbers, they are STOCK and MAX.
void ParseItem(const std::string& spec, pb::Item* item) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  auto number = [](const std::string& s, uint64_t* out) {
    return !s.empty() && absl::SimpleAtoi(s, out);
  };
  uint64_t stock = 0, max = 0;
  size_t label_end = 0;
  if (parts.size() >= 4 && number(parts[parts.size() - 2], &stock) && number(parts.back(), &max)) {
    label_end = parts.size() - 2;
  } else if (parts.size() >= 3 && number(parts.back(), &stock)) {
    label_end = parts.size() - 1;
  } else {
    throw CLI::ValidationError("--item", "'" + spec + "' is not ID:LABEL:STOCK[:MAX]");
  }
  const Limits lim;
  if (!ValidateItemId(parts[0], lim).ok())
    throw CLI::ValidationError("--item",
                               "'" + parts[0] + "': an item id is 1..32 of [A-Za-z0-9._-]");
  if (max > lim.quantity_max)
    throw CLI::ValidationError("--item", absl::StrCat("MAX is at most ", lim.quantity_max));
  item->set_id(parts[0]);
  std::vector<std::string> label(parts.begin() + 1, parts.begin() + static_cast<long>(label_end));
  item->set_label(absl::StrJoin(label, ":"));
  item->set_stock(stock);
  item->set_per_user_max(static_cast<uint32_t>(max));
}

void AddCreate(CLI::App& campaign, CampaignArgs& a) {
  auto* create = campaign.add_subcommand("create", "Create a campaign (a drop or a lottery)");
  create->add_option("id", a.id, "Campaign id: 1..64 of [A-Za-z0-9._-]")->required();
  create->add_option("--stock", a.stock, "Units on sale (0 with --item: the items' sum)");
  create->add_option("--item", a.items,
                     "An item ID:LABEL:STOCK[:MAX] (repeatable; MAX = its per-user maximum, 0 = "
                     "the campaign's). A LABEL with ':' (\"14:00-14:30\") needs the :MAX");
  create
      ->add_option("--per-user-max", a.per_user_max,
                   "Most units one user may take (0 = 1; > 1 needs --item)")
      ->check(CLI::Range(0u, Limits().quantity_max));
  create
      ->add_option("--choose", a.choose,
                   "With --item: at_entry (the entry names the item) or on_admission (the "
                   "admitted choose within --choose-s)")
      ->check(CLI::IsMember({kAtEntry, kOnAdmission}));
  create->add_option("--choose-s", a.choose_s, "on_admission: seconds to choose (1..3600)")
      ->check(CLI::Range(0u, Limits().choose_s_max));
  create
      ->add_option("--win-bps", a.win_bps,
                   "Win probability in basis points (10000 = first come, first served)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  create->add_option("--rate", a.rate, "Admission rate, positions per second (0 = at once)")
      ->capture_default_str();
  create->add_option("--queueing", a.queueing, "fifo or random (pre-queue until --opens-at-ms)")
      ->capture_default_str()
      ->check(CLI::IsMember({kFifo, kRandom}));
  create->add_option("--opens-at-ms", a.opens_at_ms, "Opening time, unix ms (0 = now)");
  create->add_option("--max-entries", a.max_entries, "Entry cap (0 = engine default)");
  create->add_option("--title", a.title, "Human-readable title");
  create
      ->add_option("--hold-s", a.hold_s,
                   "Seconds a win holds its unit until the shop confirms it (0 = a win is final)")
      ->capture_default_str()
      ->check(CLI::Range(0u, Limits().hold_s_max));
  create
      ->add_option("--draw", a.draw,
                   "instant (each entry drawn when admitted) or at_close (all drawn at close; "
                   "needs --rate 0)")
      ->capture_default_str()
      ->check(CLI::IsMember({kInstant, kAtClose}));
  create->add_option("--entropy-source", a.entropy_source,
                     "at_close only: the public randomness the close will carry, in words (e.g. "
                     "\"drand quicknet round 1234567\"); close then needs --entropy-value");
  create->callback([&a] {
    auto* c = a.cmd.mutable_create_campaign();
    c->set_stock(a.stock);
    c->set_win_bps(a.win_bps);
    c->set_admission_rate_per_s(a.rate);
    pb::Queueing q = pb::QUEUEING_FIFO;
    (void)ParseQueueing(a.queueing, &q);  // checked by IsMember above
    c->set_queueing(q);
    c->set_opens_at_ms(a.opens_at_ms);
    c->set_max_entries(a.max_entries);
    c->set_title(a.title);
    c->set_hold_s(a.hold_s);
    pb::Draw draw = pb::DRAW_INSTANT;
    (void)ParseDraw(a.draw, &draw);  // checked by IsMember above
    c->set_draw(draw);
    c->set_entropy_source(a.entropy_source);
    for (const std::string& spec : a.items) ParseItem(spec, c->add_items());
    c->set_per_user_max(a.per_user_max);
    pb::Choose choose = pb::CHOOSE_UNSPECIFIED;
    if (!a.choose.empty()) (void)ParseChoose(a.choose, &choose);  // checked by IsMember above
    c->set_choose(choose);
    c->set_choose_s(a.choose_s);
  });
}

// A steering verb: the campaign id and what `set` puts in the command.
CLI::App* AddSteer(CLI::App& campaign, CampaignArgs& a, const char* name, const char* help,
                   std::function<void(pb::Command&)> set) {
  auto* sub = campaign.add_subcommand(name, help);
  sub->add_option("id", a.id, "Campaign id")->required();
  sub->callback([&a, set = std::move(set)] { set(a.cmd); });
  return sub;
}

}  // namespace

Verb AddCampaign(CLI::App& app, const Global& g) {
  auto a = std::make_shared<CampaignArgs>();
  CLI::App* campaign = app.add_subcommand("campaign", "Create and steer campaigns");
  campaign->require_subcommand(1);
  AddCreate(*campaign, *a);
  AddSteer(*campaign, *a, "close",
           "Stop taking entries (queued positions are still served; an at_close campaign draws "
           "them all now)",
           [a](pb::Command& c) { c.mutable_close_campaign()->set_entropy_value(a->entropy_value); })
      ->add_option("--entropy-value", a->entropy_value,
                   "The value the campaign's committed entropy source published (required iff it "
                   "committed to one)");
  AddSteer(*campaign, *a, "reveal", "Publish the draw seed (after close, once drained)",
           [](pb::Command& c) { c.mutable_reveal_seed(); });
  CLI::App* restock =
      AddSteer(*campaign, *a, "restock", "Add units to stock (of one item)", [a](pb::Command& c) {
        c.mutable_restock()->set_units(a->units);
        c.mutable_restock()->set_item_id(a->item);
      });
  restock->add_option("--units", a->units, "Units to add (> 0)")->required();
  restock->add_option("--item", a->item,
                      "The item to restock (required when the campaign has items)");
  AddSteer(*campaign, *a, "pause", "Stop the serving counter",
           [](pb::Command& c) { c.mutable_pause_admission(); });
  AddSteer(*campaign, *a, "resume", "Move the serving counter again",
           [](pb::Command& c) { c.mutable_resume_admission(); });
  AddSteer(*campaign, *a, "seed",
           "Print the campaign's draw seed in hex (the operator's copy, for audit --seed-file; "
           "never share it before the reveal)",
           [a](pb::Command&) { a->print_seed = true; });
  return {campaign, [a, &g] {
            if (a->print_seed) return PrintSeed(g, a->id);
            a->cmd.set_campaign_id(a->id);
            return SubmitAndReport(g, a->cmd);
          }};
}

}  // namespace tl::ctl
