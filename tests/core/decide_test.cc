// decide/fold rules, one behaviour per test, on the in-memory harness.
#include <algorithm>

#include "tests/support/harness.h"

namespace tl::testing {
namespace {

using E = pb::Event;

TEST(Create, ValidatesConfig) {
  Harness h;
  EXPECT_EQ(RejectOf(h.Create("c", 1, 10001)), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.Create("bad id", 1, 100)), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.Create(std::string(65, 'a'), 1, 100)), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.Create("c", h.limits.stock_max + 1, 100)), pb::REJECT_INVALID_ARGUMENT);
  auto ok = h.Create("c", 10, 500);
  ASSERT_EQ(Count(ok, E::kCampaignCreated), 1);
  EXPECT_EQ(ok[0].campaign_created().config().queueing(), pb::QUEUEING_FIFO);
  EXPECT_EQ(ok[0].campaign_created().config().max_entries(), h.limits.entries_per_campaign_max);
  EXPECT_EQ(ok[0].campaign_created().seed_commitment().size(), 32u);
  EXPECT_EQ(RejectOf(h.Create("c", 10, 500)), pb::REJECT_CAMPAIGN_EXISTS);
}

// The nonce in the create command makes the seed: two deployments sharing a
// secret (or a rehearsal and the real drop) commit to unrelated seeds for one
// campaign id, and the fold derives the very seed decide committed to. No
// nonce: the seed of older ledgers.
TEST(Create, TheSeedNonceMakesTheSeed) {
  auto create = [](const std::string& nonce) {
    Harness h;
    pb::Command c = Harness::Cmd("c", kT0);
    c.mutable_create_campaign()->set_stock(5);
    c.mutable_create_campaign()->set_win_bps(500);
    c.mutable_create_campaign()->set_seed_nonce(nonce);
    std::vector<pb::Event> events = h.Run(c);
    EXPECT_EQ(Count(events, E::kCampaignCreated), 1) << nonce.size();
    if (events.empty() || !events[0].has_campaign_created()) return std::string();
    EXPECT_EQ(h.C("c").seed, DeriveSeed(h.config.seed_secret, "c", nonce));
    return events[0].campaign_created().seed_commitment();
  };
  const std::string rehearsal = create(std::string(16, 'a'));
  const std::string real = create(std::string(16, 'b'));
  EXPECT_NE(rehearsal, real);
  EXPECT_EQ(create(std::string(16, 'a')), rehearsal);  // a pure function of the command
  Hash v1 = SeedCommitment(DeriveSeed(Harness().config.seed_secret, "c"));
  EXPECT_EQ(create(""), std::string(reinterpret_cast<const char*>(v1.data()), 32));
  Harness h;
  pb::Command big = Harness::Cmd("c", kT0);
  big.mutable_create_campaign()->set_seed_nonce(std::string(33, 'n'));
  EXPECT_EQ(RejectOf(h.Run(big)), pb::REJECT_INVALID_ARGUMENT);
}

TEST(Entry, RateZeroQueuesAdmitsAndDrawsAtOnce) {
  Harness h;
  h.Create("c", 10, 10000);
  auto es = h.Enter("c", "alice");
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[0].queue_entered().position(), 1u);
  EXPECT_EQ(es[1].entry_admitted().position(), 1u);
  EXPECT_EQ(es[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(es[2].draw_resolved().stock_left(), 9u);
  EXPECT_EQ(es[0].time_ms(), kT0);
  EXPECT_EQ(es[0].command_offset(), 1u);
  EXPECT_EQ(h.Enter("c", "bob")[0].queue_entered().position(), 2u);
}

TEST(Entry, DuplicateReportsOriginalPosition) {
  Harness h;
  h.Create("c", 10, 500);
  h.Enter("c", "alice");
  h.Enter("c", "bob");
  auto es = h.Enter("c", "bob");
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].entry_rejected().reason(), pb::REJECT_DUPLICATE);
  EXPECT_EQ(es[0].entry_rejected().original_position(), 2u);
  EXPECT_EQ(h.C("c").snap.last_position(), 2u);
}

TEST(Entry, ClosedUnknownAndFullAreRejected) {
  Harness h;
  h.Create("c", 10, 500, 0, pb::QUEUEING_FIFO, 0, /*max_entries=*/2);
  EXPECT_EQ(RejectOf(h.Enter("nope", "alice")), pb::REJECT_UNKNOWN_CAMPAIGN);
  h.Enter("c", "a");
  h.Enter("c", "b");
  EXPECT_EQ(RejectOf(h.Enter("c", "x")), pb::REJECT_CAMPAIGN_FULL);
  h.Simple("c", pb::Command::kCloseCampaign);
  EXPECT_EQ(RejectOf(h.Enter("c", "y")), pb::REJECT_CAMPAIGN_CLOSED);
  EXPECT_EQ(RejectOf(h.Simple("c", pb::Command::kCloseCampaign)), pb::REJECT_CAMPAIGN_CLOSED);
  EXPECT_EQ(RejectOf(h.Tick("nope", kT0)), pb::REJECT_UNKNOWN_CAMPAIGN);
}

TEST(Entry, RefusedUsersAreRememberedUntilTheyEnter) {
  Harness h;
  h.Create("f", 10, 10000, 0, pb::QUEUEING_FIFO, kT0 + 1000);
  h.Enter("f", "eager", kT0);
  EXPECT_EQ(h.C("f").rejected_users.at("eager"), pb::REJECT_NOT_YET_OPEN);
  h.Enter("f", "eager", kT0 + 1000);
  EXPECT_EQ(h.C("f").rejected_users.count("eager"), 0u);
  h.Enter("f", "eager", kT0 + 2000);  // a duplicate: the user keeps the entry
  EXPECT_EQ(h.C("f").rejected_users.count("eager"), 0u);
}

TEST(Entry, UserIdsUnicodeAcceptedControlAndOverlongRejected) {
  Harness h;
  h.Create("c", 100, 500);
  for (std::string u : {std::string("Zoë"), std::string("ユーザー"), std::string("😀-fan"),
                        std::string("a|b"), std::string(128, 'x')}) {
    EXPECT_EQ(Count(h.Enter("c", u), E::kQueueEntered), 1) << u;
  }
  for (std::string u :
       {std::string(""), std::string(129, 'x'), std::string("a\nb"), std::string("\x01"),
        std::string("del\x7f"), std::string("\xff\xfe"), std::string("\xc3"),
        std::string("\xc2\x85"), std::string("\xed\xa0\x80"), std::string("a\0b", 3)}) {
    auto es = h.Enter("c", u);
    EXPECT_EQ(RejectOf(es), pb::REJECT_INVALID_ARGUMENT) << u.size();
    EXPECT_TRUE(IsCleanUtf8(es[0].entry_rejected().user_id()));
  }
}

TEST(Draw, WinBpsEdges) {
  Harness h;
  h.Create("zero", 100, 0);
  h.Create("one", 100, 1);
  h.Create("most", 100, 9999);
  h.Create("all", 100, 10000);
  for (int i = 0; i < 50; ++i) {
    std::string u = "u" + std::to_string(i);
    EXPECT_EQ(h.Enter("zero", u)[2].draw_resolved().outcome(), pb::OUTCOME_LOST);
    EXPECT_EQ(h.Enter("all", u)[2].draw_resolved().outcome(), pb::OUTCOME_WON);
    h.Enter("one", u);
    h.Enter("most", u);
  }
  // Outcomes follow the draw value exactly.
  for (const auto& e : h.events) {
    if (!e.has_draw_resolved()) continue;
    uint32_t bps = h.C(e.campaign_id()).snap.config().win_bps();
    bool under = UnderThreshold(e.draw_resolved().draw_value(), bps);
    EXPECT_EQ(under, e.draw_resolved().outcome() != pb::OUTCOME_LOST);
  }
  EXPECT_EQ(h.C("zero").snap.won(), 0u);
  EXPECT_EQ(h.C("all").snap.won(), 50u);
}

TEST(Draw, StockRunsOutThenSoldOut) {
  Harness h;
  h.Create("c", 2, 10000);
  h.Create("empty", 0, 10000);
  EXPECT_EQ(h.Enter("c", "a")[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(h.Enter("c", "b")[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(h.Enter("c", "x")[2].draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_EQ(h.Enter("empty", "a")[2].draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_EQ(h.C("c").snap.stock_left(), 0u);
}

TEST(Cancel, WonEntryReturnsStockThatALaterEntryWins) {
  Harness h;
  h.Create("c", 1, 10000);
  h.Enter("c", "a");
  EXPECT_EQ(h.Enter("c", "b")[2].draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_EQ(RejectOf(h.Cancel("c", "b")), pb::REJECT_NOT_CANCELLABLE);
  EXPECT_EQ(RejectOf(h.Cancel("c", "ghost")), pb::REJECT_NOT_ENTERED);
  auto es = h.Cancel("c", "a");
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].entry_cancelled().position(), 1u);
  EXPECT_EQ(es[1].stock_changed().delta(), 1);
  EXPECT_EQ(es[1].stock_changed().reason(), pb::STOCK_CANCELLATION);
  EXPECT_EQ(es[1].stock_changed().stock_left(), 1u);
  EXPECT_EQ(RejectOf(h.Cancel("c", "a")), pb::REJECT_NOT_CANCELLABLE);
  EXPECT_EQ(h.Enter("c", "late")[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST(Restock, AddsUnits) {
  Harness h;
  h.Create("c", 0, 10000);
  EXPECT_EQ(h.Enter("c", "a")[2].draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_EQ(RejectOf(h.Restock("c", 0)), pb::REJECT_INVALID_ARGUMENT);
  auto es = h.Restock("c", 3);
  EXPECT_EQ(es[0].stock_changed().reason(), pb::STOCK_RESTOCK);
  EXPECT_EQ(es[0].stock_changed().stock_left(), 3u);
  EXPECT_EQ(h.Enter("c", "b")[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(h.C("c").snap.restocked(), 3u);
}

TEST(WaitingRoom, SlowRateAdmitsByTickTime) {
  Harness h;
  h.Create("c", 100, 10000, /*rate=*/2);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.Enter("c", "u" + std::to_string(i)).size(), 1u);
  EXPECT_EQ(h.C("c").snap.serving(), 0u);
  EXPECT_EQ(h.Tick("c", kT0 + 499).size(), 0u);  // 0.998 positions of credit
  auto es = h.Tick("c", kT0 + 500);              // 1 position
  EXPECT_EQ(Count(es, E::kEntryAdmitted), 1);
  EXPECT_EQ(Count(es, E::kDrawResolved), 1);
  EXPECT_EQ(h.C("c").snap.serving(), 1u);
  EXPECT_EQ(Count(h.Tick("c", kT0 + 1000), E::kEntryAdmitted), 1);
  // People ahead of position 5 = 5 - serving - 1 = 2 (positions 3 and 4).
  EXPECT_EQ(h.C("c").snap.serving(), 2u);
  // Paused: time passes, nobody is admitted, and the paused time is not owed.
  h.Simple("c", pb::Command::kPauseAdmission, kT0 + 1000);
  EXPECT_EQ(RejectOf(h.Simple("c", pb::Command::kPauseAdmission, kT0 + 1000)),
            pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(h.Tick("c", kT0 + 9000).size(), 0u);
  h.Simple("c", pb::Command::kResumeAdmission, kT0 + 9000);
  EXPECT_EQ(h.Tick("c", kT0 + 9400).size(), 0u);
  EXPECT_EQ(Count(h.Tick("c", kT0 + 9500), E::kEntryAdmitted), 1);
  EXPECT_EQ(Count(h.Tick("c", kT0 + 20000), E::kEntryAdmitted), 2);  // only 2 left to serve
  EXPECT_EQ(h.C("c").snap.serving(), 5u);
  EXPECT_EQ(h.C("c").snap.credit_milli(), 0u);  // drained: no banked credit
}

TEST(WaitingRoom, IdleTimeDoesNotBankABurst) {
  Harness h;
  h.Create("c", 100, 10000, /*rate=*/10);
  for (int t = 100; t <= 10000; t += 100) h.Tick("c", kT0 + t);
  for (int i = 0; i < 5; ++i) h.Enter("c", "u" + std::to_string(i), kT0 + 10000);
  EXPECT_EQ(Count(h.Tick("c", kT0 + 10100), E::kEntryAdmitted), 1);
}

TEST(WaitingRoom, ClockSkewNeverMovesTimeBackwards) {
  Harness h;
  h.Create("c", 100, 10000, /*rate=*/10);
  for (int i = 0; i < 5; ++i) h.Enter("c", "u" + std::to_string(i), kT0);
  EXPECT_EQ(Count(h.Tick("c", kT0 + 300), E::kEntryAdmitted), 3);
  EXPECT_EQ(h.Tick("c", kT0 + 100).size(), 0u);  // an older tick earns nothing
  EXPECT_EQ(Count(h.Tick("c", kT0 + 400), E::kEntryAdmitted), 1);
}

TEST(WaitingRoom, PausedRateZeroServesAllOnResume) {
  Harness h;
  h.Create("c", 100, 10000);
  h.Simple("c", pb::Command::kPauseAdmission);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.Enter("c", "u" + std::to_string(i)).size(), 1u);
  auto es = h.Simple("c", pb::Command::kResumeAdmission);
  EXPECT_EQ(Count(es, E::kEntryAdmitted), 4);
  EXPECT_EQ(h.C("c").snap.serving(), 4u);
}

std::vector<std::string> PositionsAfterOpening(const std::vector<std::string>& arrivals) {
  Harness h;
  h.Create("r", 1000, 500, 0, pb::QUEUEING_RANDOM, kT0 + 1000);
  for (const auto& u : arrivals) {
    auto es = h.Enter("r", u, kT0 + 10);
    EXPECT_EQ(Count(es, E::kEntryPrequeued), 1);
  }
  EXPECT_EQ(RejectOf(h.Enter("r", arrivals[0], kT0 + 20)), pb::REJECT_DUPLICATE);
  auto es = h.Tick("r", kT0 + 1000);
  std::vector<std::string> order;
  for (const auto& e : es)
    if (e.has_queue_entered()) order.push_back(e.queue_entered().user_id());
  EXPECT_EQ(Count(es, E::kDrawResolved), static_cast<int>(arrivals.size()));
  // Later arrivals queue behind, first come first served.
  EXPECT_EQ(h.Enter("r", "late-1", kT0 + 1001)[0].queue_entered().position(), arrivals.size() + 1);
  EXPECT_EQ(h.Enter("r", "late-2", kT0 + 1002)[0].queue_entered().position(), arrivals.size() + 2);
  EXPECT_TRUE(CheckInvariants(h.C("r")).ok());
  return order;
}

TEST(RandomQueue, OrderIsTheSeedsAndIndependentOfArrival) {
  std::vector<std::string> users;
  for (int i = 0; i < 50; ++i) users.push_back("user-" + std::to_string(i));
  std::vector<std::string> first = PositionsAfterOpening(users);
  std::reverse(users.begin(), users.end());
  std::vector<std::string> reversed = PositionsAfterOpening(users);
  EXPECT_EQ(first, reversed);
  // The order is the seed's: sorted by the HMAC pre-queue key.
  Harness h;
  Drawer d(DeriveSeed(h.config.seed_secret, "r"));
  std::vector<std::pair<Hash, std::string>> keyed;
  for (const auto& u : users) keyed.emplace_back(d.PrequeueKey("r", u), u);
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size(); ++i) EXPECT_EQ(first[i], keyed[i].second);
  // And not the arrival order.
  std::reverse(users.begin(), users.end());
  EXPECT_NE(first, users);
}

TEST(RandomQueue, FirstEntryAfterOpeningOpensTheQueue) {
  Harness h;
  h.Create("r", 10, 10000, 0, pb::QUEUEING_RANDOM, kT0 + 1000);
  h.Enter("r", "early", kT0);
  auto es = h.Enter("r", "on-time", kT0 + 1000);
  ASSERT_GE(es.size(), 2u);
  EXPECT_EQ(es[0].queue_entered().user_id(), "early");
  EXPECT_EQ(es[0].queue_entered().prequeue_key().size(), 32u);
  EXPECT_EQ(Count(es, E::kQueueEntered), 2);
  EXPECT_EQ(h.C("r").snap.serving(), 2u);
}

TEST(RandomQueue, CloseBeforeOpeningStillOrdersThePrequeue) {
  Harness h;
  h.Create("r", 10, 10000, 0, pb::QUEUEING_RANDOM, kT0 + 1000);
  h.Enter("r", "a", kT0);
  h.Enter("r", "b", kT0);
  auto es = h.Simple("r", pb::Command::kCloseCampaign, kT0 + 1);
  EXPECT_EQ(Count(es, E::kQueueEntered), 2);
  EXPECT_EQ(Count(es, E::kCampaignClosed), 1);
  EXPECT_EQ(h.C("r").snap.won(), 2u);
}

TEST(FifoQueue, EntriesBeforeOpeningAreRejected) {
  Harness h;
  h.Create("f", 10, 10000, 0, pb::QUEUEING_FIFO, kT0 + 1000);
  EXPECT_EQ(RejectOf(h.Enter("f", "early", kT0 + 999)), pb::REJECT_NOT_YET_OPEN);
  EXPECT_EQ(Count(h.Enter("f", "early", kT0 + 1000), E::kQueueEntered), 1);
}

TEST(Reveal, OnlyAfterCloseAndDrainAndMatchesCommitment) {
  Harness h;
  auto created = h.Create("c", 10, 500, /*rate=*/1);
  h.Enter("c", "a");
  EXPECT_EQ(RejectOf(h.Simple("c", pb::Command::kRevealSeed)), pb::REJECT_NOT_DRAINED);
  h.Simple("c", pb::Command::kCloseCampaign);
  EXPECT_EQ(RejectOf(h.Simple("c", pb::Command::kRevealSeed)), pb::REJECT_NOT_DRAINED);
  h.Tick("c", kT0 + 1000);
  auto es = h.Simple("c", pb::Command::kRevealSeed, kT0 + 1000);
  ASSERT_EQ(Count(es, E::kSeedRevealed), 1);
  const std::string& seed = es[0].seed_revealed().seed();
  Hash commit = Sha256(seed);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(commit.data()), 32),
            created[0].campaign_created().seed_commitment());
  EXPECT_EQ(RejectOf(h.Simple("c", pb::Command::kRevealSeed)), pb::REJECT_ALREADY_REVEALED);
}

TEST(Decide, IsPureAndDeterministic) {
  Harness h;
  h.Create("c", 3, 5000, 5);
  for (int i = 0; i < 20; ++i) h.Enter("c", "u" + std::to_string(i), kT0 + i);
  pb::Command tick = Harness::Cmd("c", kT0 + 3000);
  tick.mutable_tick();
  EventList a, b;
  std::string before = h.C("c").snap.SerializeAsString();
  ASSERT_TRUE(Decide(h.state, h.config, h.limits, tick, 99, &a).ok());
  ASSERT_TRUE(Decide(h.state, h.config, h.limits, tick, 99, &b).ok());
  EXPECT_EQ(h.C("c").snap.SerializeAsString(), before);  // state untouched
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), 30);  // 15 positions admitted and drawn
  for (int i = 0; i < a.size(); ++i)
    EXPECT_EQ(EncodeDeterministic(a[i]), EncodeDeterministic(b[i]));
}

TEST(Decide, CommandWithoutBodyStopsTheEngine) {
  Harness h;
  pb::Command c = Harness::Cmd("c", kT0);
  EventList out;
  absl::Status st = Decide(h.state, h.config, h.limits, c, 7, &out);
  EXPECT_TRUE(absl::IsDataLoss(st));
  EXPECT_NE(st.message().find("offset 7"), std::string_view::npos);
}

TEST(Fold, RejectsForgedEvents) {
  Harness h;
  h.Create("c", 1, 10000);
  h.Enter("c", "a");
  // A second WON with no stock left.
  pb::Event e = h.events.back();
  e.set_sequence(h.state.next_sequence);
  EXPECT_FALSE(Fold(&h.state, h.config, e, EncodeDeterministic(e)).ok());
  // A gap in positions.
  pb::Event q;
  q.set_sequence(h.state.next_sequence);
  q.set_campaign_id("c");
  q.mutable_queue_entered()->set_user_id("z");
  q.mutable_queue_entered()->set_position(5);
  absl::Status st = Fold(&h.state, h.config, q, EncodeDeterministic(q));
  EXPECT_TRUE(absl::IsInternal(st));
  EXPECT_NE(st.message().find("gapless"), std::string_view::npos);
  // Wrong sequence.
  q.set_sequence(h.state.next_sequence + 1);
  EXPECT_FALSE(Fold(&h.state, h.config, q, EncodeDeterministic(q)).ok());
  // A ledger written with another secret.
  Harness other;
  other.config.seed_secret = "another-secret-0123456789";
  pb::Event created = h.events[0];
  created.set_sequence(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      Fold(&other.state, other.config, created, EncodeDeterministic(created))));
}

// Found by the simulator (ops/sim), whose api replicas' clocks disagree: an
// entry stamped 1.5 s before the campaign's clock set the queue's clock back,
// so the next tick admitted at once credit the queue never earned (the
// audit: "1 admitted by 32 ms at 1/s"). A campaign's queue clock never goes
// back now; commands out of time order earn no credit.
TEST(Admission, AnEntryStampedBeforeTheQueueClockEarnsNoCredit) {
  Harness h;
  h.Create("c", 10, 10000, /*rate=*/1);
  h.Enter("c", "late-replica", kT0 - 1500);
  EXPECT_EQ(h.C("c").snap.clock_ms(), kT0);
  std::vector<pb::Event> tick = h.Tick("c", kT0 + 32);
  for (const pb::Event& e : tick) EXPECT_FALSE(e.has_entry_admitted()) << e.ShortDebugString();
  // A second later, one is admitted, as the rate says.
  tick = h.Tick("c", kT0 + 1000);
  ASSERT_FALSE(tick.empty());
  EXPECT_TRUE(tick[0].has_entry_admitted());
  EXPECT_EQ(h.C("c").snap.serving(), 1u);
}

// Limits::prequeue_max bounds the users a random campaign holds before its
// opening (the opening answers them all in one append): the next one is
// refused as full, naming the pre-queue; at the opening entries go on.
TEST(RandomQueue, APrequeueAtItsLimitRefusesTheNextUserAsFull) {
  Harness h;
  h.limits.prequeue_max = 2;
  h.Create("r", 10, 10000, 0, pb::QUEUEING_RANDOM, kT0 + 1000);
  EXPECT_EQ(Count(h.Enter("r", "a", kT0), E::kEntryPrequeued), 1);
  EXPECT_EQ(Count(h.Enter("r", "b", kT0), E::kEntryPrequeued), 1);
  auto es = h.Enter("r", "c", kT0);
  ASSERT_EQ(RejectOf(es), pb::REJECT_CAMPAIGN_FULL);
  EXPECT_NE(es[0].entry_rejected().detail().find("pre-queue is full (2 users)"), std::string::npos)
      << es[0].entry_rejected().detail();
  es = h.Enter("r", "c", kT0 + 1000);  // the opening: a, b and c get positions
  EXPECT_EQ(Count(es, E::kQueueEntered), 3);
}
}  // namespace
}  // namespace tl::testing
