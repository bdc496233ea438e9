// ticketctl audit: clean ledgers pass; every tampering is caught and named;
// a biased engine is flagged by the statistics and a fair one is not.
#include "ops/audit/audit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/runtime/node.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

constexpr const char* kSecret = kSeedSecret;  // the one ticketctl gets in AuditCli

// A real single-node run: a 5% lottery and a first-come race with a
// cancellation and a restock, both closed and revealed.
struct Recorded {
  std::vector<LogRecord> commands;
  std::vector<pb::Event> events;
};

Recorded MakeRecorded(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 1;
  o.config.seed_secret = kSecret;
  auto node = Node::Open(o);
  EXPECT_TRUE(node.ok());
  (*node)->engine().Start();
  uint64_t t = 1767225600000;
  auto submit = [&](const std::string& id, auto fill) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(t++);
    fill(c);
    EXPECT_TRUE((*node)->Submit(c).ok());
  };
  submit("lottery", [](pb::Command& c) {
    c.mutable_create_campaign()->set_stock(1000);
    c.mutable_create_campaign()->set_win_bps(500);
  });
  submit("race", [](pb::Command& c) {
    c.mutable_create_campaign()->set_stock(10);
    c.mutable_create_campaign()->set_win_bps(10000);
  });
  for (int i = 0; i < 3000; ++i) {
    const std::string u = "u" + std::to_string(i);
    submit("lottery", [&](pb::Command& c) { c.mutable_request_entry()->set_user_id(u); });
    if (i < 30) submit("race", [&](pb::Command& c) { c.mutable_request_entry()->set_user_id(u); });
  }
  submit("race", [](pb::Command& c) { c.mutable_cancel_entry()->set_user_id("u2"); });
  submit("race", [](pb::Command& c) { c.mutable_restock()->set_units(3); });
  for (const char* id : {"lottery", "race"}) {
    submit(id, [](pb::Command& c) { c.mutable_close_campaign(); });
    submit(id, [](pb::Command& c) { c.mutable_reveal_seed(); });
  }
  uint64_t end = *(*node)->log().commands()->EndOffset(0);
  EXPECT_TRUE((*node)->engine().WaitForCommands(0, end, absl::Seconds(60)).ok());
  (*node)->engine().Stop();
  Recorded run;
  EXPECT_TRUE((*node)->log().commands()->Read(0, 0, 1 << 20, &run.commands).ok());
  std::vector<LogRecord> recs;
  EXPECT_TRUE((*node)->log().ledger()->Read(0, 0, 1 << 20, &recs).ok());
  for (const LogRecord& r : recs) run.events.emplace_back().ParseFromString(r.value);
  return run;
}

// Writes `events` (and the commands) to a fresh embedded log and audits it.
AuditReport AuditOf(const std::string& dir, const Recorded& run,
                    const std::vector<pb::Event>& events, bool with_commands = true,
                    std::vector<std::string> raw_tail = {}) {
  auto db = EmbeddedLogDb::Open(dir, 1);
  EXPECT_TRUE(db.ok());
  std::vector<LogRecord> out;
  for (const pb::Event& e : events) out.push_back({0, e.campaign_id(), EncodeDeterministic(e)});
  for (std::string& raw : raw_tail) out.push_back({0, "x", raw});
  EXPECT_TRUE((*db)->ledger()->Append(0, out).ok());
  if (with_commands) {
    EXPECT_TRUE((*db)->commands()->Append(0, run.commands).ok());
  }
  AuditOptions o;
  o.config.seed_secret = kSecret;
  o.have_secret = true;
  return Audit((*db)->ledger(), with_commands ? (*db)->commands() : nullptr, o);
}

bool Names(const AuditReport& r, const std::string& check) {
  for (const Finding& f : r.violations) {
    if (f.check == check) return true;
  }
  return false;
}

std::string Checks(const AuditReport& r) {
  std::string s;
  for (const Finding& f : r.violations) s += "[" + f.check + "] " + f.detail + "\n";
  return s;
}

// Finds the first event matching `pred`.
template <typename P>
pb::Event* Find(std::vector<pb::Event>& events, P pred) {
  for (pb::Event& e : events) {
    if (pred(e)) return &e;
  }
  return nullptr;
}

class AuditTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    run_ = new Recorded(MakeRecorded(dir_->Sub("node")));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  AuditReport Tampered(const std::function<void(std::vector<pb::Event>&)>& tamper,
                       bool with_commands = true) {
    std::vector<pb::Event> events = run_->events;
    tamper(events);
    return AuditOf(dir_->Sub("t" + std::to_string(n_++)), *run_, events, with_commands);
  }
  static TempDir* dir_;
  static Recorded* run_;
  static int n_;
};
TempDir* AuditTest::dir_ = nullptr;
Recorded* AuditTest::run_ = nullptr;
int AuditTest::n_ = 0;

TEST_F(AuditTest, CleanLedgerPasses) {
  AuditReport r = AuditOf(dir_->Sub("clean"), *run_, run_->events);
  EXPECT_EQ(r.ExitCode(), 0) << Checks(r) << r.error;
  EXPECT_NE(r.determinism.find("identical"), std::string::npos) << r.determinism;
  ASSERT_EQ(r.campaigns.size(), 2u);
  const CampaignAudit& lottery = r.campaigns[0];
  EXPECT_EQ(lottery.id, "lottery");
  EXPECT_EQ(lottery.rederived, 3000u);  // every draw re-derived from the revealed seed
  EXPECT_EQ(lottery.rate.n, 3000u);
  EXPECT_GT(lottery.rate.p_value, 0.001);
  EXPECT_LE(lottery.rate.wilson999[0], 0.05);
  EXPECT_GE(lottery.rate.wilson999[1], 0.05);
  // The report says it in words, and the JSON carries the numbers.
  EXPECT_NE(RenderAuditText(r).find("CLEAN"), std::string::npos);
  EXPECT_EQ(RenderAuditJson(r)["campaigns"][0]["win_rate"]["eligible_draws"], 3000);
}

TEST_F(AuditTest, FlippedOutcomeIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    Find(ev,
         [](const pb::Event& e) {
           return e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_LOST;
         })
        ->mutable_draw_resolved()
        ->set_outcome(pb::OUTCOME_WON);
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Names(r, "outcome")) << Checks(r);
}

TEST_F(AuditTest, ChangedDrawValueIsCaught) {
  AuditReport r = Tampered(
      [](std::vector<pb::Event>& ev) {
        auto* d = Find(ev, [](const pb::Event& e) {
                    return e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_LOST;
                  })->mutable_draw_resolved();
        d->set_draw_value(d->draw_value() + 1);  // still a loss: only the seed can tell
      },
      /*with_commands=*/false);
  EXPECT_TRUE(Names(r, "draw value")) << Checks(r);
}

TEST_F(AuditTest, TwoPositionsSwappedAreCaught) {
  AuditReport r = Tampered(
      [](std::vector<pb::Event>& ev) {
        // Users u5 and u6 trade places in the lottery's queue, consistently.
        for (pb::Event& e : ev) {
          if (e.campaign_id() != "lottery") continue;
          auto swap = [](std::string* u) {
            if (*u == "u5") {
              *u = "u6";
            } else if (*u == "u6") {
              *u = "u5";
            }
          };
          if (e.has_queue_entered()) swap(e.mutable_queue_entered()->mutable_user_id());
          if (e.has_entry_admitted()) swap(e.mutable_entry_admitted()->mutable_user_id());
          if (e.has_draw_resolved()) swap(e.mutable_draw_resolved()->mutable_user_id());
        }
      },
      /*with_commands=*/false);
  EXPECT_TRUE(Names(r, "draw value")) << Checks(r);
  // With the commands log, determinism names the first differing event too.
  AuditReport d = Tampered([](std::vector<pb::Event>& ev) {
    auto* q = Find(ev, [](const pb::Event& e) {
      return e.has_queue_entered() && e.queue_entered().user_id() == "u5";
    });
    q->mutable_queue_entered()->set_user_id("u6");
  });
  EXPECT_TRUE(Names(d, "determinism")) << Checks(d);
  EXPECT_TRUE(Names(d, "one entry per user")) << Checks(d);
}

TEST_F(AuditTest, ExtraWinBeyondStockIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    Find(ev,
         [](const pb::Event& e) {
           return e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_SOLD_OUT;
         })
        ->mutable_draw_resolved()
        ->set_outcome(pb::OUTCOME_WON);
  });
  EXPECT_TRUE(Names(r, "stock")) << Checks(r);
  EXPECT_TRUE(Names(r, "outcome")) << Checks(r);
}

TEST_F(AuditTest, DuplicateUserIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    for (pb::Event& e : ev) {  // u9 enters the lottery as a second u8
      if (e.campaign_id() == "lottery" && e.has_queue_entered() &&
          e.queue_entered().user_id() == "u9")
        e.mutable_queue_entered()->set_user_id("u8");
    }
  });
  EXPECT_TRUE(Names(r, "one entry per user")) << Checks(r);
}

TEST_F(AuditTest, WrongRevealedSeedIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    std::string* seed = Find(ev, [](const pb::Event& e) { return e.has_seed_revealed(); })
                            ->mutable_seed_revealed()
                            ->mutable_seed();
    (*seed)[0] ^= 1;
  });
  EXPECT_TRUE(Names(r, "seed")) << Checks(r);
}

TEST_F(AuditTest, TruncatedLedgerIsCaught) {
  // The tail cut off: the commands say more was decided.
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) { ev.resize(ev.size() - 7); });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Names(r, "determinism")) << Checks(r);
  // A hole in the middle: sequences missing.
  AuditReport hole = Tampered([](std::vector<pb::Event>& ev) { ev.erase(ev.begin() + 100); },
                              /*with_commands=*/false);
  EXPECT_TRUE(Names(hole, "ledger")) << Checks(hole);
  // A torn record: could not audit (exit 2), naming the offset.
  AuditReport torn = AuditOf(dir_->Sub("torn"), *run_, run_->events, false, {"\xff\xff\xff"});
  EXPECT_EQ(torn.ExitCode(), 2);
  EXPECT_NE(torn.error.find("offset"), std::string::npos) << torn.error;
}

TEST_F(AuditTest, RepeatedSequencesFollowTheLedgerReadersPolicy) {
  // The same record twice (a producer retry): dropped, the audit is clean.
  AuditReport same =
      Tampered([](std::vector<pb::Event>& ev) { ev.insert(ev.begin() + 120, ev[100]); });
  EXPECT_EQ(same.ExitCode(), 0) << Checks(same) << same.error;
  EXPECT_EQ(same.ledger_records, same.ledger_events + 1);
  // A different record at a sequence already read: a ledger violation.
  AuditReport forged = Tampered(
      [](std::vector<pb::Event>& ev) {
        pb::Event e = ev[100];
        e.set_time_ms(e.time_ms() + 1);
        ev.insert(ev.begin() + 120, e);
      },
      /*with_commands=*/false);
  EXPECT_EQ(forged.ExitCode(), 1) << forged.error;
  EXPECT_TRUE(Names(forged, "ledger")) << Checks(forged);
  EXPECT_NE(Checks(forged).find("a different record at sequence"), std::string::npos)
      << Checks(forged);
}

// A synthetic lottery of `draws` draws at 5% whose values come from `rng`;
// `extra` is the share of draws pushed under the threshold (a biased engine).
std::vector<pb::Event> Lottery(uint64_t draws, double extra, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<pb::Event> ev;
  uint64_t seq = 1;
  auto add = [&]() -> pb::Event& {
    pb::Event& e = ev.emplace_back();
    e.set_sequence(seq++);
    e.set_campaign_id("stats");
    e.set_time_ms(1767225600000);
    return e;
  };
  auto* cfg = add().mutable_campaign_created()->mutable_config();
  cfg->set_stock(draws);
  cfg->set_win_bps(500);
  const uint64_t threshold = static_cast<uint64_t>(WinThreshold(500));
  uint64_t stock = draws;
  for (uint64_t pos = 1; pos <= draws; ++pos) {
    const std::string user = "s" + std::to_string(pos);
    add().mutable_queue_entered()->set_user_id(user);
    ev.back().mutable_queue_entered()->set_position(pos);
    add().mutable_entry_admitted()->set_position(pos);
    ev.back().mutable_entry_admitted()->set_user_id(user);
    uint64_t v = rng();
    if (coin(rng) < extra) v = rng() % threshold;
    const bool won = v < threshold;
    if (won) --stock;
    auto* d = add().mutable_draw_resolved();
    d->set_position(pos);
    d->set_user_id(user);
    d->set_draw_value(v);
    d->set_outcome(won ? pb::OUTCOME_WON : pb::OUTCOME_LOST);
    d->set_stock_left(stock);
  }
  return ev;
}

TEST_F(AuditTest, StatisticsFlagASixPercentEngineAndPassAFairOne) {
  Recorded none;
  AuditReport fair = AuditOf(dir_->Sub("fair"), none, Lottery(100000, 0, 42), false);
  EXPECT_EQ(fair.ExitCode(), 0) << Checks(fair);
  EXPECT_GT(fair.campaigns[0].rate.p_value, 0.001);
  EXPECT_GT(fair.campaigns[0].uniformity.p_value, 0.001);
  // 1% of draws forced under the 5% threshold: about 5.95% win.
  AuditReport biased = AuditOf(dir_->Sub("biased"), none, Lottery(100000, 0.0105, 42), false);
  EXPECT_EQ(biased.ExitCode(), 1);
  EXPECT_TRUE(Names(biased, "win rate")) << Checks(biased);
  EXPECT_GT(biased.campaigns[0].rate.observed, 0.058);
  EXPECT_LT(biased.campaigns[0].rate.p_value, 1e-6);
  EXPECT_NE(biased.campaigns[0].verdict.find("NOT consistent"), std::string::npos);
  // Without a seed the report says what it could not check.
  ASSERT_FALSE(fair.campaigns[0].not_checked.empty());
  EXPECT_NE(fair.determinism.find("not checked"), std::string::npos);
}

TEST(AuditStatistics, KnownValues) {
  // Exact binomial, two-sided: 7 of 10 at p = 0.5 is 0.34375 (R: binom.test(7, 10)).
  EXPECT_NEAR(BinomialTwoSidedP(7, 10, 0.5), 0.34375, 1e-9);
  // 0 of 100 at 5%: 0.95^100 plus the upper tail at least as unlikely.
  EXPECT_NEAR(BinomialTwoSidedP(5, 100, 0.05), 1.0, 1e-9);
  // Wilson 95% for 5/100: [0.02154, 0.11175].
  double w[2];
  WilsonInterval(5, 100, 1.959963984540054, w);
  EXPECT_NEAR(w[0], 0.021543, 1e-5);
  EXPECT_NEAR(w[1], 0.111752, 1e-5);
  // Chi-square upper tail, 15 dof: P(X > 30.578) = 0.01; P(X > 14.339) = 0.5.
  EXPECT_NEAR(ChiSquareUpperP(30.578, 15), 0.01, 1e-4);
  EXPECT_NEAR(ChiSquareUpperP(14.339, 15), 0.5, 1e-3);
}

TEST(AuditCli, ReportsJsonAndExitCodes) {
  TempDir dir;
  Recorded run = MakeRecorded(dir.Sub("node"));
  TicketdProcess clean(TL_TICKETCTL, {"--data-dir", dir.Sub("node"), "audit", "--json"}, {},
                       "^(.)");
  // TicketdProcess hands ticketctl the same secret: determinism is checked.
  EXPECT_EQ(clean.Kill(0), 0);
  TicketdProcess missing(TL_TICKETCTL, {"--data-dir", dir.Sub("nothing"), "audit"}, {}, "^(.)",
                         true);
  EXPECT_EQ(missing.Kill(0), 2);  // a usage error: nothing to audit there
  // A violation is wrong data: exit 3 (ops/app/exit_codes.h).
  std::vector<pb::Event> events = run.events;
  Find(events,
       [](const pb::Event& e) {
         return e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_LOST;
       })
      ->mutable_draw_resolved()
      ->set_outcome(pb::OUTCOME_WON);
  std::filesystem::create_directories(dir.Sub("bad"));
  EXPECT_EQ(AuditOf(dir.Sub("bad") + "/log", run, events).ExitCode(), 1);
  TicketdProcess bad(TL_TICKETCTL, {"--data-dir", dir.Sub("bad"), "audit"}, {}, "^(.)");
  EXPECT_EQ(bad.Kill(0), 3);
}

}  // namespace
}  // namespace tl::testing
