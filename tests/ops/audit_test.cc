// ticketctl audit: clean ledgers pass; every tampering is caught and named;
// a biased engine is flagged by the statistics and a fair one is not.
#include "ops/audit/audit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_join.h"
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

// One recorded run per suite, made once by `make` and audited, tampered with
// by each test, from a fresh log (with the commands log when `kWithCommands`).
template <typename RunT, RunT (*make)(const std::string&), bool kWithCommands>
class RecordedAuditTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    run_ = new RunT(make(dir_->Sub("node")));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  AuditReport Tampered(const std::function<void(std::vector<pb::Event>&)>& tamper,
                       bool with_commands = kWithCommands) {
    std::vector<pb::Event> events = run_->events;
    tamper(events);
    return AuditOf(dir_->Sub("t" + std::to_string(n_++)), *run_, events, with_commands);
  }
  static const CampaignAudit* Of(const AuditReport& r, const std::string& id) {
    for (const CampaignAudit& c : r.campaigns) {
      if (c.id == id) return &c;
    }
    return nullptr;
  }
  // Events of `kind` for campaign `id` in the recorded run.
  static uint64_t Count(const std::string& id, pb::Event::BodyCase kind) {
    uint64_t n = 0;
    for (const pb::Event& e : run_->events) n += e.campaign_id() == id && e.body_case() == kind;
    return n;
  }
  static inline TempDir* dir_ = nullptr;
  static inline RunT* run_ = nullptr;
  static inline int n_ = 0;
};

using AuditTest = RecordedAuditTest<Recorded, MakeRecorded, true>;

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

// ---- holds, confirmations, expiries, the at-close draw, promotions --------

constexpr uint64_t kT0 = 1767225600000;
constexpr uint64_t kClose = kT0 + 100000;  // the drop's close

// A real single-node run, driven in steps (what follows the close depends on
// who won):
//  - "held": instant, stock 5, hold 60 s: confirmations (one with a wrong
//    pass, one twice), a give-back whose unit a later entry wins, expiries
//    by a tick, a confirmation refused after its hold expired, a restock.
//  - "drop": at close, stock 100, win_bps 5000, hold 60 s, committed to an
//    entropy source; 2000 entries; 70 winners confirm, 2 give back, a
//    restock of 3, the other 28 expire; promotions follow every returned
//    unit, promoted entries confirm or expire in turn. Closed, revealed.
struct HoldsRun : Recorded {
  std::vector<uint64_t> drop_won, drop_waitlisted;  // users' positions at close
};

HoldsRun MakeHolds(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 1;
  o.config.seed_secret = kSecret;
  auto node = Node::Open(o);
  EXPECT_TRUE(node.ok());
  (*node)->engine().Start();
  auto submit = [&](const std::string& id, uint64_t t, auto fill) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(t);
    fill(c);
    EXPECT_TRUE((*node)->Submit(c).ok());
  };
  auto enter = [&](const std::string& id, uint64_t t, const std::string& u) {
    submit(id, t, [&](pb::Command& c) { c.mutable_request_entry()->set_user_id(u); });
  };
  auto confirm = [&](const std::string& id, uint64_t t, const std::string& u,
                     const std::string& pass) {
    submit(id, t, [&](pb::Command& c) {
      c.mutable_confirm_entry()->set_user_id(u);
      c.mutable_confirm_entry()->set_pass_id(pass);
    });
  };
  auto cancel = [&](const std::string& id, uint64_t t, const std::string& u) {
    submit(id, t, [&](pb::Command& c) { c.mutable_cancel_entry()->set_user_id(u); });
  };
  auto tick = [&](const std::string& id, uint64_t t) {
    submit(id, t, [](pb::Command& c) { c.mutable_tick(); });
  };
  // Waits for the engine and reads the whole ledger.
  auto settle = [&]() {
    uint64_t end = *(*node)->log().commands()->EndOffset(0);
    EXPECT_TRUE((*node)->engine().WaitForCommands(0, end, absl::Seconds(60)).ok());
    std::vector<LogRecord> recs;
    EXPECT_TRUE((*node)->log().ledger()->Read(0, 0, 1 << 20, &recs).ok());
    std::vector<pb::Event> events;
    for (const LogRecord& r : recs) events.emplace_back().ParseFromString(r.value);
    return events;
  };
  // The positions an event kind names in campaign `id`, in ledger order.
  auto positions = [](const std::vector<pb::Event>& ev, const std::string& id, auto pick) {
    std::vector<uint64_t> out;
    for (const pb::Event& e : ev) {
      if (e.campaign_id() != id) continue;
      if (uint64_t p = pick(e); p != 0) out.push_back(p);
    }
    return out;
  };
  auto user = [](uint64_t pos) { return "d" + std::to_string(pos - 1); };  // drop: d<i> at i + 1
  auto pass = [](const std::string& id, uint64_t pos) { return id + ":" + std::to_string(pos); };

  // "held": instant.
  submit("held", kT0, [](pb::Command& c) {
    c.mutable_create_campaign()->set_stock(5);
    c.mutable_create_campaign()->set_win_bps(10000);
    c.mutable_create_campaign()->set_hold_s(60);
  });
  for (int i = 0; i < 8; ++i) enter("held", kT0 + 1 + i, "u" + std::to_string(i));  // 1-5 won
  confirm("held", kT0 + 1000, "u0", "held:1");
  confirm("held", kT0 + 1001, "u1", "held:9");  // not u1's pass: refused
  cancel("held", kT0 + 1002, "u1");             // position 2's unit back
  enter("held", kT0 + 1003, "u8");              // position 9 wins it
  confirm("held", kT0 + 1004, "u0", "held:1");  // twice: refused
  confirm("held", kT0 + 2000, "u8", "held:9");
  tick("held", kT0 + 62000);                     // positions 3, 4, 5 expire
  confirm("held", kT0 + 62001, "u2", "held:3");  // refused: expired
  enter("held", kT0 + 62002, "u9");              // position 10 wins an expired unit
  submit("held", kT0 + 62003, [](pb::Command& c) { c.mutable_restock()->set_units(2); });
  submit("held", kT0 + 62004, [](pb::Command& c) { c.mutable_close_campaign(); });
  submit("held", kT0 + 62005, [](pb::Command& c) { c.mutable_reveal_seed(); });

  // "drop": at close.
  submit("drop", kT0, [](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_stock(100);
    cc->set_win_bps(5000);
    cc->set_hold_s(60);
    cc->set_draw(pb::DRAW_AT_CLOSE);
    cc->set_entropy_source("drand quicknet round 1234567");
  });
  for (int i = 0; i < 2000; ++i) enter("drop", kT0 + 10 + i, "d" + std::to_string(i));
  submit("drop", kClose, [](pb::Command& c) {
    c.mutable_close_campaign()->set_entropy_value(
        "5d4c1e0a9b7f3e2d8c6a4b2f0e9d7c5b3a1f8e6d4c2b0a9f7e5d3c1b0a8f6e4d");
  });
  HoldsRun run;
  std::vector<pb::Event> ev = settle();
  auto outcome = [&](pb::Outcome want) {
    return [want](const pb::Event& e) -> uint64_t {
      return e.has_draw_resolved() && e.draw_resolved().outcome() == want
                 ? e.draw_resolved().position()
                 : 0;
    };
  };
  run.drop_won = positions(ev, "drop", outcome(pb::OUTCOME_WON));
  run.drop_waitlisted = positions(ev, "drop", outcome(pb::OUTCOME_WAITLISTED));
  EXPECT_EQ(run.drop_won.size(), 100u);
  EXPECT_GT(run.drop_waitlisted.size(), 100u);
  for (size_t i = 0; i < run.drop_won.size() && i < 70; ++i)
    confirm("drop", kClose + 1000, user(run.drop_won[i]), pass("drop", run.drop_won[i]));
  cancel("drop", kClose + 1001, user(run.drop_won[70]));
  cancel("drop", kClose + 1001, user(run.drop_won[71]));  // 2 promoted
  submit("drop", kClose + 1002, [](pb::Command& c) { c.mutable_restock()->set_units(3); });
  tick("drop", kClose + 61000);  // the other 28 winners expire: 28 promoted
  confirm("drop", kClose + 61500, user(run.drop_won[72]), pass("drop", run.drop_won[72]));
  tick("drop", kClose + 62000);  // the 5 promoted first expire: 5 more promoted
  ev = settle();
  auto promoted = [](const pb::Event& e) -> uint64_t {
    return e.has_entry_promoted() ? e.entry_promoted().position() : 0;
  };
  std::vector<uint64_t> prom = positions(ev, "drop", promoted);
  EXPECT_EQ(prom.size(), 38u);
  for (size_t i = 5; i < prom.size() && i < 15; ++i)
    confirm("drop", kClose + 62500, user(prom[i]), pass("drop", prom[i]));
  submit("drop", kClose + 63000, [](pb::Command& c) { c.mutable_reveal_seed(); });
  tick("drop", kClose + 200000);  // every promoted hold left expires, and is promoted again
  run.events = settle();
  EXPECT_TRUE((*node)->log().commands()->Read(0, 0, 1 << 20, &run.commands).ok());
  (*node)->engine().Stop();
  return run;
}

using HoldsAuditTest = RecordedAuditTest<HoldsRun, MakeHolds, false>;

// Whether a finding of `check` says `words`.
bool Says(const AuditReport& r, const std::string& check, const std::string& words) {
  for (const Finding& f : r.violations) {
    if (f.check == check && f.detail.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST_F(HoldsAuditTest, CleanLedgerWithHoldsAndAnAtCloseDrawPasses) {
  AuditReport r = AuditOf(dir_->Sub("clean"), *run_, run_->events);
  EXPECT_EQ(r.ExitCode(), 0) << Checks(r) << r.error;
  EXPECT_NE(r.determinism.find("identical"), std::string::npos) << r.determinism;
  const CampaignAudit* held = Of(r, "held");
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->won, 7u);  // 5, then position 9 and 10 on returned units
  EXPECT_EQ(held->confirmed, 2u);
  EXPECT_EQ(held->cancelled, 1u);
  EXPECT_EQ(held->expired, 3u);
  EXPECT_NE(held->merkle.find("matches"), std::string::npos) << held->merkle;
  const CampaignAudit* drop = Of(r, "drop");
  ASSERT_NE(drop, nullptr);
  EXPECT_EQ(drop->draw, "at_close");
  EXPECT_EQ(drop->entries, 2000u);
  EXPECT_EQ(drop->rederived, 2000u);  // every at-close value from the seed and the entropy
  EXPECT_EQ(drop->confirmed, 80u);
  EXPECT_EQ(drop->waitlisted, run_->drop_waitlisted.size());
  // 2 give-backs + 3 restocked + 28 + 5 expiries, then the 23 left at the last tick.
  EXPECT_EQ(drop->promoted, 38u + 23u);
  EXPECT_EQ(drop->expired, 28u + 5u + 23u);
  EXPECT_EQ(drop->stock_left, 0u);
  EXPECT_TRUE(drop->arrival.tested);
  EXPECT_GT(drop->arrival.p_value, 0.001);
  EXPECT_EQ(drop->arrival.wins, 100u);
  EXPECT_NE(drop->merkle.find("matches"), std::string::npos) << drop->merkle;
  // The human and the JSON report list the new checks and counts.
  const std::string text = RenderAuditText(r);
  EXPECT_NE(text.find("CLEAN"), std::string::npos);
  EXPECT_NE(text.find("confirmed 80, expired 56, waitlisted"), std::string::npos) << text;
  EXPECT_NE(text.find("checked: at-close draw"), std::string::npos) << text;
  EXPECT_NE(text.find("arrival decile"), std::string::npos) << text;
  nlohmann::json j = RenderAuditJson(r);
  nlohmann::json jd;
  for (const auto& c : j["campaigns"]) {
    if (c["id"] == "drop") jd = c;
  }
  EXPECT_EQ(jd["confirmed"], 80);
  EXPECT_EQ(jd["promoted"], 61);
  EXPECT_EQ(jd["draw"], "at_close");
  EXPECT_TRUE(jd["arrival_order"]["tested"].get<bool>());
  EXPECT_EQ(jd["arrival_order"]["deciles"].size(), 10u);
  EXPECT_GE(jd["checks"].size(), 5u);
}

TEST_F(HoldsAuditTest, PromotionOutOfWaitlistOrderIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    // The first two promotions of one answer trade who was promoted.
    for (size_t i = 0; i + 1 < ev.size(); ++i) {
      if (ev[i].has_entry_promoted() && ev[i + 1].has_entry_promoted()) {
        auto* a = ev[i].mutable_entry_promoted();
        auto* b = ev[i + 1].mutable_entry_promoted();
        std::swap(*a->mutable_user_id(), *b->mutable_user_id());
        const uint64_t pa = a->position(), ra = a->waitlist_rank();
        a->set_position(b->position());
        a->set_waitlist_rank(b->waitlist_rank());
        b->set_position(pa);
        b->set_waitlist_rank(ra);
        return;
      }
    }
    FAIL() << "no two promotions in a row";
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Says(r, "promotion order", "but the head of the waitlist is position")) << Checks(r);
}

TEST_F(HoldsAuditTest, ExpiryBeforeItsDeadlineIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    pb::Event* x = Find(ev, [](const pb::Event& e) { return e.has_hold_expired(); });
    x->set_time_ms(x->hold_expired().hold_until_ms() - 1);
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Says(r, "hold expiry", "before its deadline")) << Checks(r);
  // An event after a deadline that did not expire the hold first: u8's
  // confirmation moved past position 3's deadline.
  AuditReport late = Tampered([](std::vector<pb::Event>& ev) {
    Find(ev, [](const pb::Event& e) {
      return e.campaign_id() == "held" && e.has_entry_confirmed() &&
             e.entry_confirmed().user_id() == "u8";
    })->set_time_ms(kT0 + 61010);
  });
  EXPECT_TRUE(Says(late, "hold expiry", "position 3's hold until 1767225660003 is still live"))
      << Checks(late);
}

TEST_F(HoldsAuditTest, ConfirmationAfterExpiryIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    // The refused confirmation of an expired hold, logged as accepted.
    pb::Event* x = Find(ev, [](const pb::Event& e) {
      return e.campaign_id() == "held" && e.has_entry_rejected() &&
             e.entry_rejected().reason() == pb::REJECT_HOLD_EXPIRED;
    });
    ASSERT_NE(x, nullptr);
    const std::string u = x->entry_rejected().user_id();
    auto* c = x->mutable_entry_confirmed();
    c->set_user_id(u);
    c->set_position(3);
    c->set_pass_id("held:3");
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Says(r, "confirmation", "position 3 confirmed but it is expired")) << Checks(r);
  // A confirmation moved past its deadline is caught too.
  AuditReport late = Tampered([](std::vector<pb::Event>& ev) {
    pb::Event* x = Find(ev, [](const pb::Event& e) {
      return e.campaign_id() == "drop" && e.has_entry_confirmed();
    });
    x->set_time_ms(kClose + 60000);
  });
  EXPECT_TRUE(Says(late, "confirmation", "after its hold expired at")) << Checks(late);
}

TEST_F(HoldsAuditTest, WinAtCloseNotAmongTheSmallestValuesIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    // The winner with the largest value and the head of the waitlist trade
    // outcomes; stock_left is rewritten to match.
    pb::DrawResolved *top = nullptr, *head = nullptr;
    for (pb::Event& e : ev) {
      if (e.campaign_id() != "drop" || !e.has_draw_resolved()) continue;
      auto* d = e.mutable_draw_resolved();
      if (d->outcome() == pb::OUTCOME_WON && (!top || d->draw_value() > top->draw_value())) top = d;
      if (d->outcome() == pb::OUTCOME_WAITLISTED && d->waitlist_rank() == 1) head = d;
    }
    ASSERT_TRUE(top && head);
    head->set_outcome(pb::OUTCOME_WON);
    head->set_hold_until_ms(top->hold_until_ms());
    head->set_waitlist_rank(0);
    top->set_outcome(pb::OUTCOME_WAITLISTED);
    top->set_hold_until_ms(0);
    top->set_waitlist_rank(1);
    uint64_t stock = 100;
    for (pb::Event& e : ev) {
      if (e.campaign_id() != "drop" || !e.has_draw_resolved()) continue;
      if (e.draw_resolved().outcome() == pb::OUTCOME_WON) --stock;
      e.mutable_draw_resolved()->set_stock_left(stock);
    }
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Says(r, "at-close draw", "is not among the 100 smallest eligible values"))
      << Checks(r);
}

TEST_F(HoldsAuditTest, WrongMerkleRootIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    pb::Event* x = Find(ev, [](const pb::Event& e) {
      return e.campaign_id() == "drop" && e.has_campaign_closed();
    });
    (*x->mutable_campaign_closed()->mutable_merkle_root())[5] ^= 1;
  });
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(Says(r, "merkle root", "the 2000 QueueEntered events")) << Checks(r);
  // An entry's time rewritten: its leaf, and so the root, differ.
  AuditReport moved = Tampered([](std::vector<pb::Event>& ev) {
    pb::Event* x = Find(ev, [](const pb::Event& e) {
      return e.campaign_id() == "drop" && e.has_queue_entered() &&
             e.queue_entered().position() == 700;
    });
    x->set_time_ms(x->time_ms() + 1);
  });
  EXPECT_TRUE(Names(moved, "merkle root")) << Checks(moved);
}

TEST_F(HoldsAuditTest, ChangedAtCloseValueIsCaughtFromTheRevealedSeedOrASeedFile) {
  std::vector<pb::Event> ev = run_->events;
  pb::Event* x = Find(ev, [](const pb::Event& e) {
    return e.campaign_id() == "drop" && e.has_draw_resolved() &&
           e.draw_resolved().outcome() == pb::OUTCOME_LOST;
  });
  const uint64_t pos = x->draw_resolved().position();
  x->mutable_draw_resolved()->set_draw_value(x->draw_resolved().draw_value() + 1);  // still lost
  const std::string want = "position " + std::to_string(pos) + " (at close): logged";
  // The revealed seed, with the entropy value CampaignClosed carries.
  AuditReport revealed = AuditOf(dir_->Sub("value"), *run_, ev, /*with_commands=*/false);
  EXPECT_TRUE(Says(revealed, "draw value", want)) << Checks(revealed);
  // The seed given for the campaign (--seed-file): checked at the close itself.
  auto db = EmbeddedLogDb::Open(dir_->Sub("value-seed"), 1);
  ASSERT_TRUE(db.ok());
  std::vector<LogRecord> out;
  for (const pb::Event& e : ev) {
    if (!e.has_seed_revealed()) out.push_back({0, e.campaign_id(), EncodeDeterministic(e)});
  }
  for (uint64_t i = 0; i < out.size(); ++i) {  // renumbered: no gap where the reveals were
    pb::Event e;
    e.ParseFromString(out[i].value);
    e.set_sequence(i + 1);
    out[i].value = EncodeDeterministic(e);
  }
  ASSERT_TRUE((*db)->ledger()->Append(0, out).ok());
  AuditOptions o;
  o.campaign = "drop";
  o.seeds["drop"] = DeriveSeed(kSecret, "drop");
  AuditReport given = Audit((*db)->ledger(), nullptr, o);
  EXPECT_TRUE(Says(given, "draw value", want)) << Checks(given) << given.error;
  ASSERT_EQ(given.campaigns.size(), 1u);
  EXPECT_EQ(given.campaigns[0].rederived, 2000u);
}

// A synthetic at-close drop whose values favour early arrivals: the logged
// values and outcomes agree with each other (no seed to tell them wrong), but
// the winners bunch in the first deciles.
std::vector<pb::Event> BiasedDrop(uint64_t n, uint64_t stock, bool biased, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> values(n);
  for (uint64_t& v : values) v = rng();
  if (biased) std::sort(values.begin(), values.begin() + n / 2);  // early arrivals, small values
  std::vector<pb::Event> ev;
  uint64_t seq = 1, offset = 0;
  auto add = [&](bool first) -> pb::Event& {
    pb::Event& e = ev.emplace_back();
    e.set_sequence(seq++);
    e.set_campaign_id("biased");
    e.set_time_ms(kT0 + offset);
    e.set_command_offset(first ? ++offset : offset);
    e.set_command_events(first ? 1 : 0);
    return e;
  };
  auto* cfg = add(true).mutable_campaign_created()->mutable_config();
  cfg->set_stock(stock);
  cfg->set_win_bps(10000);
  cfg->set_draw(pb::DRAW_AT_CLOSE);
  for (uint64_t pos = 1; pos <= n; ++pos) {
    auto* q = add(true).mutable_queue_entered();
    q->set_user_id("b" + std::to_string(pos));
    q->set_position(pos);
  }
  add(true).mutable_campaign_closed()->set_entries(n);
  std::vector<std::pair<uint64_t, uint64_t>> order;
  for (uint64_t pos = 1; pos <= n; ++pos) order.push_back({values[pos - 1], pos});
  std::sort(order.begin(), order.end());
  std::vector<uint64_t> rank(n);
  for (uint64_t i = 0; i < n; ++i) rank[order[i].second - 1] = i + 1;
  uint64_t left = stock;
  for (uint64_t pos = 1; pos <= n; ++pos) {
    auto* d = add(false).mutable_draw_resolved();
    d->set_position(pos);
    d->set_user_id("b" + std::to_string(pos));
    d->set_draw_value(values[pos - 1]);
    if (rank[pos - 1] <= stock) {
      d->set_outcome(pb::OUTCOME_WON);
      --left;
    } else {
      d->set_outcome(pb::OUTCOME_WAITLISTED);
      d->set_waitlist_rank(rank[pos - 1] - stock);
    }
    d->set_stock_left(left);
  }
  return ev;
}

TEST(AuditStatistics, ArrivalOrderFlagsABiasedAtCloseDraw) {
  TempDir dir;
  Recorded none;
  AuditReport fair = AuditOf(dir.Sub("fair"), none, BiasedDrop(5000, 200, false, 7), false);
  EXPECT_EQ(fair.ExitCode(), 0) << Checks(fair);
  EXPECT_TRUE(fair.campaigns[0].arrival.tested);
  EXPECT_GT(fair.campaigns[0].arrival.p_value, 0.001);
  // Half the values sorted by arrival: each of the first deciles gets more
  // than its share of the smallest values. The selection itself is right.
  AuditReport biased = AuditOf(dir.Sub("unfair"), none, BiasedDrop(5000, 200, true, 7), false);
  EXPECT_EQ(biased.ExitCode(), 1);
  EXPECT_TRUE(Names(biased, "arrival order")) << Checks(biased);
  EXPECT_FALSE(Names(biased, "at-close draw")) << Checks(biased);
  EXPECT_LT(biased.campaigns[0].arrival.p_value, 1e-6);
  EXPECT_NE(biased.campaigns[0].verdict.find("DEPEND on arrival order"), std::string::npos);
}

TEST(AuditStatistics, ArrivalChiSquareKnownValue) {
  // 1000 entries in 10 deciles of 100, 100 wins: 20 in the first, 0 in the
  // last, 10 elsewhere. Expected 10 won / 90 not per decile: chi-square
  // 2 * (100/10 + 100/90) = 22.222; 9 dof: p = 0.0082007 (R: pchisq(200 / 9, 9,
  // lower.tail = FALSE)).
  ArrivalTest t;
  for (int d = 0; d < 10; ++d) {
    t.size[d] = 100;
    t.won[d] = 10;
  }
  t.won[0] = 20;
  t.won[9] = 0;
  ArrivalChiSquare(&t);
  EXPECT_NEAR(t.chi_square, 22.2222, 1e-3);
  EXPECT_NEAR(t.p_value, 0.0082007, 1e-6);
}

// ---- items (issue 15) ------------------------------------------------------

// A real single-node run with items:
//  - "race": at entry, instant, items A (10, at most 4 each) and B (5), hold
//    60 s; 40 users ask for 1-4 units; refusals when a request cannot be
//    filled whole; a give-back of a multi-unit win, a restock of B, expiries
//    by a tick, confirmations.
//  - "lottery": at entry, 50% per item, items S and M of 300 units each, 1200
//    entries of one unit.
//  - "drop": at close, 50%, hold 60 s, items X (20) and Y (10), quantities
//    1-3 (at most 3); winners give back (promotions per item), the rest
//    expire (more promotions).
//  - "popup": on admission, choose_s 30, rate 0, slots S1 and S2 of 3 places,
//    at most 2 each: choices, an ITEM_FULL refusal, expiries, SOLD_OUT once
//    nothing is left, a give-back.
Recorded MakeItems(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 1;
  o.config.seed_secret = kSecret;
  auto node = Node::Open(o);
  EXPECT_TRUE(node.ok());
  (*node)->engine().Start();
  auto submit = [&](const std::string& id, uint64_t t, auto fill) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(t);
    fill(c);
    EXPECT_TRUE((*node)->Submit(c).ok());
  };
  auto enter = [&](const std::string& id, uint64_t t, const std::string& u,
                   const std::string& item = "", uint32_t q = 0) {
    submit(id, t, [&](pb::Command& c) {
      c.mutable_request_entry()->set_user_id(u);
      c.mutable_request_entry()->set_item_id(item);
      c.mutable_request_entry()->set_quantity(q);
    });
  };
  auto choose = [&](uint64_t t, const std::string& u, const std::string& item, uint32_t q) {
    submit("popup", t, [&](pb::Command& c) {
      c.mutable_choose_item()->set_user_id(u);
      c.mutable_choose_item()->set_item_id(item);
      c.mutable_choose_item()->set_quantity(q);
    });
  };
  auto item = [](pb::CreateCampaign* cc, const std::string& id, uint64_t stock, uint32_t max) {
    auto* it = cc->add_items();
    it->set_id(id);
    it->set_label("label " + id);
    it->set_stock(stock);
    it->set_per_user_max(max);
  };
  auto settle = [&]() {
    uint64_t end = *(*node)->log().commands()->EndOffset(0);
    EXPECT_TRUE((*node)->engine().WaitForCommands(0, end, absl::Seconds(60)).ok());
    std::vector<LogRecord> recs;
    EXPECT_TRUE((*node)->log().ledger()->Read(0, 0, 1 << 20, &recs).ok());
    std::vector<pb::Event> events;
    for (const LogRecord& r : recs) events.emplace_back().ParseFromString(r.value);
    return events;
  };
  auto cancel = [&](const std::string& id, uint64_t t, const std::string& u) {
    submit(id, t, [&](pb::Command& c) { c.mutable_cancel_entry()->set_user_id(u); });
  };
  auto tick = [&](const std::string& id, uint64_t t) {
    submit(id, t, [](pb::Command& c) { c.mutable_tick(); });
  };
  auto close = [&](const std::string& id, uint64_t t) {
    submit(id, t, [](pb::Command& c) { c.mutable_close_campaign(); });
    submit(id, t + 1, [](pb::Command& c) { c.mutable_reveal_seed(); });
  };

  submit("race", kT0, [&](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_win_bps(10000);
    cc->set_hold_s(60);
    cc->set_per_user_max(4);
    item(cc, "A", 10, 0);
    item(cc, "B", 5, 3);
  });
  for (int i = 0; i < 40; ++i)
    enter("race", kT0 + 1 + i, "r" + std::to_string(i), i % 3 == 2 ? "B" : "A",
          i % 3 == 2 ? 1 + i % 3 : 1 + (i * 7) % 4);
  submit("race", kT0 + 100, [](pb::Command& c) {
    c.mutable_confirm_entry()->set_user_id("r0");
    c.mutable_confirm_entry()->set_pass_id("race:1");
  });
  cancel("race", kT0 + 101, "r1");  // r1 won 4 of A: 4 come back
  enter("race", kT0 + 102, "r40", "A", 3);
  submit("race", kT0 + 103, [](pb::Command& c) {
    c.mutable_restock()->set_units(2);
    c.mutable_restock()->set_item_id("B");
  });
  enter("race", kT0 + 104, "r41", "B", 2);
  tick("race", kT0 + 70000);  // every unconfirmed hold expires
  enter("race", kT0 + 70001, "r42", "A", 4);
  close("race", kT0 + 70002);

  submit("lottery", kT0, [&](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_win_bps(5000);
    item(cc, "S", 300, 0);
    item(cc, "M", 300, 0);
  });
  for (int i = 0; i < 1200; ++i)
    enter("lottery", kT0 + 1 + i, "l" + std::to_string(i), i % 2 ? "M" : "S", 1);
  close("lottery", kT0 + 2000);

  submit("drop", kT0, [&](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_win_bps(5000);
    cc->set_hold_s(60);
    cc->set_draw(pb::DRAW_AT_CLOSE);
    cc->set_per_user_max(3);
    item(cc, "X", 20, 0);
    item(cc, "Y", 10, 0);
  });
  for (int i = 0; i < 300; ++i)
    enter("drop", kT0 + 1 + i, "d" + std::to_string(i), i % 3 ? "X" : "Y", 1 + (i * 5) % 3);
  submit("drop", kClose, [](pb::Command& c) { c.mutable_close_campaign(); });

  submit("popup", kT0, [&](pb::Command& c) {
    auto* cc = c.mutable_create_campaign();
    cc->set_win_bps(10000);
    cc->set_per_user_max(2);
    cc->set_choose(pb::CHOOSE_ON_ADMISSION);
    cc->set_choose_s(30);
    item(cc, "S1", 3, 0);
    item(cc, "S2", 3, 0);
  });
  for (int i = 0; i < 20; ++i) enter("popup", kT0 + 1 + i, "p" + std::to_string(i));
  choose(kT0 + 100, "p0", "S1", 2);
  choose(kT0 + 101, "p1", "S1", 2);  // 1 left: ITEM_FULL
  choose(kT0 + 102, "p1", "S2", 2);
  choose(kT0 + 103, "p2", "S1", 1);
  tick("popup", kT0 + 40000);          // p3..p5 expire; p6 admitted
  choose(kT0 + 40001, "p6", "S2", 1);  // nothing left: the rest SOLD_OUT
  cancel("popup", kT0 + 40002, "p0");
  choose(kT0 + 40003, "p7", "S1", 1);  // not admitted
  close("popup", kT0 + 40004);

  // The drop after its close: winners give back, the others expire.
  std::vector<pb::Event> ev = settle();
  int given_back = 0;
  for (const pb::Event& e : ev)
    if (e.campaign_id() == "drop" && e.has_draw_resolved() &&
        e.draw_resolved().outcome() == pb::OUTCOME_WON && given_back++ < 6)
      cancel("drop", kClose + 1000 + given_back, e.draw_resolved().user_id());
  tick("drop", kClose + 70000);
  submit("drop", kClose + 70001, [](pb::Command& c) { c.mutable_reveal_seed(); });
  Recorded run;
  run.events = settle();
  EXPECT_TRUE((*node)->log().commands()->Read(0, 0, 1 << 20, &run.commands).ok());
  (*node)->engine().Stop();
  return run;
}

using ItemsAuditTest = RecordedAuditTest<Recorded, MakeItems, false>;

TEST_F(ItemsAuditTest, CleanLedgersWithItemsPass) {
  // The run exercised what the checks are about.
  EXPECT_GT(Count("popup", pb::Event::kItemChosen), 3u);
  EXPECT_EQ(Count("popup", pb::Event::kChoiceExpired), 3u);
  EXPECT_GT(Count("drop", pb::Event::kEntryPromoted), 6u);
  uint64_t item_full = 0;
  for (const pb::Event& e : run_->events)
    item_full += e.has_entry_rejected() && e.entry_rejected().reason() == pb::REJECT_ITEM_FULL;
  EXPECT_EQ(item_full, 1u);

  for (bool with_commands : {false, true}) {
    AuditReport r = AuditOf(dir_->Sub(with_commands ? "clean_cmd" : "clean"), *run_, run_->events,
                            with_commands);
    EXPECT_EQ(r.ExitCode(), 0) << Checks(r) << r.error << RenderAuditText(r);
    if (with_commands) {
      EXPECT_NE(r.determinism.find("identical"), std::string::npos) << r.determinism;
    }
    const CampaignAudit* race = Of(r, "race");
    ASSERT_NE(race, nullptr);
    EXPECT_EQ(race->choose, "at_entry");
    ASSERT_EQ(race->items.size(), 2u);
    EXPECT_EQ(race->items[1].restocked, 2u);
    EXPECT_GT(race->sold_out, 0u);
    for (const ItemAudit& it : race->items)
      EXPECT_EQ(it.stock_left + it.taken - it.returned, it.stock + it.restocked) << it.id;
    const CampaignAudit* popup = Of(r, "popup");
    ASSERT_NE(popup, nullptr);
    EXPECT_EQ(popup->choose, "on_admission");
    EXPECT_EQ(popup->choices_expired, 3u);
    EXPECT_EQ(popup->item_full_refusals, 1u);
    EXPECT_TRUE(popup->not_checked.empty()) << absl::StrJoin(popup->not_checked, "; ");
    const CampaignAudit* lottery = Of(r, "lottery");
    ASSERT_NE(lottery, nullptr);
    for (const ItemAudit& it : lottery->items) EXPECT_GT(it.rate.n, 300u) << it.id;
    const CampaignAudit* drop = Of(r, "drop");
    ASSERT_NE(drop, nullptr);
    EXPECT_GT(drop->items[0].promoted + drop->items[1].promoted, 6u);
  }
  AuditReport r = AuditOf(dir_->Sub("clean_json"), *run_, run_->events, false);
  nlohmann::json j = RenderAuditJson(r);
  bool listed = false;
  for (const auto& c : j["campaigns"])
    if (c["id"] == "popup") {
      listed = c["items"].size() == 2 && c["items"][0]["id"] == "S1" && c["chosen"] == 4;
    }
  EXPECT_TRUE(listed) << j.dump(2);
  const std::string text = RenderAuditText(r);
  EXPECT_NE(text.find("item S1: stock 3"), std::string::npos) << text;
  EXPECT_NE(text.find("item M: stock 300"), std::string::npos) << text;
}

// The first draw in `id` matching `pred`, and the units of its item left
// before it (from the previous event that logged them).
template <typename P>
pb::DrawResolved* FindDraw(std::vector<pb::Event>& ev, const std::string& id, P pred) {
  for (pb::Event& e : ev)
    if (e.campaign_id() == id && e.has_draw_resolved() && pred(e.draw_resolved()))
      return e.mutable_draw_resolved();
  return nullptr;
}

TEST_F(ItemsAuditTest, OversoldItemIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    pb::DrawResolved* d = FindDraw(
        ev, "race", [](const pb::DrawResolved& d) { return d.outcome() == pb::OUTCOME_SOLD_OUT; });
    ASSERT_NE(d, nullptr);
    d->set_outcome(pb::OUTCOME_WON);
  });
  EXPECT_TRUE(Says(r, "all or nothing", "never partly filled")) << Checks(r);
  EXPECT_TRUE(Says(r, "item stock", "oversold")) << Checks(r);
}

TEST_F(ItemsAuditTest, PartlyFilledRequestIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    // A refused request of q units turned into a win of the units left.
    pb::DrawResolved* d = FindDraw(ev, "race", [](const pb::DrawResolved& d) {
      return d.outcome() == pb::OUTCOME_SOLD_OUT && d.item_stock_left() > 0;
    });
    ASSERT_NE(d, nullptr);
    d->set_outcome(pb::OUTCOME_WON);
    d->set_quantity(static_cast<uint32_t>(d->item_stock_left()));
    d->set_item_stock_left(0);
  });
  EXPECT_TRUE(Says(r, "all or nothing", "filled whole or not at all")) << Checks(r);
}

TEST_F(ItemsAuditTest, RefusalWhilePlacesRemainedIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    pb::DrawResolved* d = FindDraw(ev, "race", [](const pb::DrawResolved& d) {
      return d.outcome() == pb::OUTCOME_WON && d.position() > 3;
    });
    ASSERT_NE(d, nullptr);
    d->set_outcome(pb::OUTCOME_SOLD_OUT);
  });
  EXPECT_TRUE(Says(r, "all or nothing", "a refusal while places remained")) << Checks(r);
  // On admission: an ITEM_FULL refusal that asked for no more than was left.
  AuditReport full = Tampered([](std::vector<pb::Event>& ev) {
    for (pb::Event& e : ev)
      if (e.has_entry_rejected() && e.entry_rejected().reason() == pb::REJECT_ITEM_FULL)
        e.mutable_entry_rejected()->set_quantity(1);  // 1 left there: it asked for no more
  });
  EXPECT_TRUE(Says(full, "item full", "a refusal while places remained")) << Checks(full);
}

TEST_F(ItemsAuditTest, ChoiceAfterItsDeadlineIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    for (pb::Event& e : ev)
      if (e.has_item_chosen() && e.item_chosen().user_id() == "p2")
        e.set_time_ms(e.time_ms() + 31000);
  });
  EXPECT_TRUE(Says(r, "choice deadline", "a choice after its deadline")) << Checks(r);
  // A choice where the ledger let the admission expire first.
  AuditReport lapsed = Tampered([](std::vector<pb::Event>& ev) {
    for (pb::Event& e : ev)
      if (e.has_item_chosen() && e.item_chosen().user_id() == "p6") {
        e.mutable_item_chosen()->set_user_id("p3");
        e.mutable_item_chosen()->set_position(4);
      }
  });
  EXPECT_TRUE(Says(lapsed, "choice", "a choice after its deadline")) << Checks(lapsed);
}

TEST_F(ItemsAuditTest, PromotionWhoseQuantityDidNotFitIsCaught) {
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    // The units before the first promotion of X came back to Y instead.
    for (size_t i = 0; i < ev.size(); ++i) {
      if (ev[i].campaign_id() != "drop" || !ev[i].has_entry_promoted() ||
          ev[i].entry_promoted().item_id() != "X")
        continue;
      for (size_t k = i; k-- > 0;)
        if (ev[k].campaign_id() == "drop" && ev[k].has_stock_changed()) {
          ev[k].mutable_stock_changed()->set_item_id("Y");
          break;
        }
      return;
    }
    FAIL() << "no promotion of X";
  });
  EXPECT_TRUE(Says(r, "promotion", "whole quantity fits")) << Checks(r);
}

TEST_F(ItemsAuditTest, AdmissionPastTheGateIsCaught) {
  // p6 admitted while p3..p5 still had time to choose the one unit left:
  // the ChoiceExpired events moved after p6's admission.
  AuditReport r = Tampered([](std::vector<pb::Event>& ev) {
    std::vector<pb::Event> expired;
    size_t at = 0;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (ev[i].campaign_id() == "popup" && ev[i].has_choice_expired()) {
        expired.push_back(ev[i]);
        at = i;
      }
    }
    ASSERT_EQ(expired.size(), 3u);
    // ev[at + 1..]: EntryAdmitted, DrawResolved of p6: swap them before.
    std::vector<pb::Event> tail(ev.begin() + at + 1, ev.begin() + at + 3);
    ASSERT_TRUE(tail[0].has_entry_admitted());
    uint64_t seq = ev[at - 2].sequence();
    std::vector<pb::Event> order = tail;
    order.insert(order.end(), expired.begin(), expired.end());
    for (size_t k = 0; k < order.size(); ++k) {
      order[k].set_sequence(seq + k);
      ev[at - 2 + k] = order[k];
    }
  });
  EXPECT_TRUE(Names(r, "admission gate")) << Checks(r);
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
