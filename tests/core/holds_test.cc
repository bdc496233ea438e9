// Issue 14's decide/fold rules, one behaviour per test: holds that expire on
// command time, confirmation naming the pass, the at-close draw keyed with
// committed entropy, waitlist promotion, and the entries' Merkle root.
#include <algorithm>
#include <map>

#include "engine/core/fold.h"
#include "engine/core/merkle.h"
#include "engine/core/names.h"
#include "tests/support/harness.h"

namespace tl::testing {
namespace {

using E = pb::Event;
constexpr uint64_t kS = 1000;  // one second in ms

const pb::Event* Find(const std::vector<pb::Event>& es, E::BodyCase which) {
  for (const auto& e : es)
    if (e.body_case() == which) return &e;
  return nullptr;
}

TEST(Holds, CreateValidatesTheNewOptions) {
  Harness h;
  EXPECT_EQ(RejectOf(h.CreateHeld("c", 1, 10000, h.limits.hold_s_max + 1)),
            pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.CreateHeld("c", 1, 10000, 0, static_cast<pb::Draw>(9))),
            pb::REJECT_INVALID_ARGUMENT);
  // An instant draw cannot wait for entropy; an at-close draw admits nobody.
  EXPECT_EQ(RejectOf(h.CreateHeld("c", 1, 10000, 0, pb::DRAW_INSTANT, "drand round 1")),
            pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.CreateHeld("c", 1, 10000, 0, pb::DRAW_AT_CLOSE, std::string(201, 'x'))),
            pb::REJECT_INVALID_ARGUMENT);
  pb::Command rated = Harness::Cmd("c", kT0);
  rated.mutable_create_campaign()->set_draw(pb::DRAW_AT_CLOSE);
  rated.mutable_create_campaign()->set_admission_rate_per_s(10);
  EXPECT_EQ(RejectOf(h.Run(rated)), pb::REJECT_INVALID_ARGUMENT);
  auto ok = h.CreateHeld("c", 1, 10000, 60, pb::DRAW_AT_CLOSE, "drand quicknet round 1234567");
  ASSERT_EQ(Count(ok, E::kCampaignCreated), 1);
  EXPECT_EQ(ok[0].campaign_created().config().entropy_source(), "drand quicknet round 1234567");
}

TEST(Holds, AWinHoldsItsUnitUntilDecidedTimePlusHoldS) {
  Harness h;
  h.CreateHeld("c", 2, 10000, 60);
  auto es = h.Enter("c", "alice", kT0 + 5);
  const pb::Event* d = Find(es, E::kDrawResolved);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(d->draw_resolved().hold_until_ms(), kT0 + 5 + 60 * kS);
  EXPECT_EQ(h.C("c").HoldOf(1), kT0 + 5 + 60 * kS);
  EXPECT_EQ(h.C("c").snap.stock_left(), 1u);
}

TEST(Holds, TheShopConfirmsOnceNamingThePass) {
  Harness h;
  h.CreateHeld("c", 2, 10000, 60);
  h.Enter("c", "alice");
  h.Enter("c", "bob");
  EXPECT_EQ(RejectOf(h.Confirm("c", "alice", "c:2", kT0 + kS)), pb::REJECT_PASS_MISMATCH);
  auto ok = h.Confirm("c", "alice", PassId("c", 1), kT0 + kS);
  ASSERT_EQ(Count(ok, E::kEntryConfirmed), 1);
  EXPECT_EQ(ok[0].entry_confirmed().position(), 1u);
  EXPECT_EQ(ok[0].entry_confirmed().pass_id(), "c:1");
  EXPECT_EQ(h.C("c").status[0], EntryStatus::kConfirmed);
  EXPECT_EQ(h.C("c").HoldOf(1), 0u);  // a confirmed unit holds nothing: it is sold
  EXPECT_EQ(RejectOf(h.Confirm("c", "alice", "c:1", kT0 + 2 * kS)), pb::REJECT_ALREADY_CONFIRMED);
  // Sold is sold: a confirmed entry cannot be given back, and never expires.
  EXPECT_EQ(RejectOf(h.Cancel("c", "alice", kT0 + 3 * kS)), pb::REJECT_ALREADY_CONFIRMED);
  auto later = h.Tick("c", kT0 + 3600 * kS);
  EXPECT_EQ(Count(later, E::kHoldExpired), 1);  // bob's, not alice's
  EXPECT_EQ(later[0].hold_expired().user_id(), "bob");
  EXPECT_EQ(h.C("c").snap.confirmed(), 1u);
  EXPECT_EQ(RejectOf(h.Confirm("c", "carol", "c:3")), pb::REJECT_NOT_ENTERED);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST(Holds, APassedDeadlineExpiresAtTheNextCommandOfAnyKind) {
  Harness h;
  h.CreateHeld("c", 1, 10000, 10);
  h.Enter("c", "alice", kT0);
  h.Enter("c", "bob", kT0 + kS);  // sold out
  EXPECT_EQ(h.C("c").status[1], EntryStatus::kSoldOut);
  // Just before the deadline nothing expires; at it, carol's own entry first
  // expires alice's hold, and carol wins the unit that came back.
  EXPECT_EQ(Count(h.Tick("c", kT0 + 10 * kS - 1), E::kHoldExpired), 0);
  auto es = h.Enter("c", "carol", kT0 + 10 * kS);
  ASSERT_GE(es.size(), 5u);
  EXPECT_EQ(es[0].hold_expired().user_id(), "alice");
  EXPECT_EQ(es[0].hold_expired().hold_until_ms(), kT0 + 10 * kS);
  EXPECT_EQ(es[1].stock_changed().reason(), pb::STOCK_HOLD_EXPIRED);
  EXPECT_EQ(es[1].stock_changed().stock_left(), 1u);
  EXPECT_EQ(es[2].queue_entered().user_id(), "carol");
  EXPECT_EQ(es[4].draw_resolved().outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(h.C("c").status[0], EntryStatus::kExpired);
  // Confirming or giving back the expired win is refused with the reason.
  EXPECT_EQ(RejectOf(h.Confirm("c", "alice", "c:1", kT0 + 11 * kS)), pb::REJECT_HOLD_EXPIRED);
  EXPECT_EQ(RejectOf(h.Cancel("c", "alice", kT0 + 11 * kS)), pb::REJECT_HOLD_EXPIRED);
  EXPECT_EQ(h.C("c").snap.expired(), 1u);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST(Holds, AConfirmationAtTheDeadlineIsTooLateAndTheAnswerSaysSo) {
  Harness h;
  h.CreateHeld("c", 1, 10000, 30);
  h.Enter("c", "alice");
  auto es = h.Confirm("c", "alice", "c:1", kT0 + 30 * kS);
  // One answer: the expiry the command's time caused, then the refusal.
  ASSERT_EQ(es.size(), 3u);
  EXPECT_TRUE(es[0].has_hold_expired());
  EXPECT_TRUE(es[1].has_stock_changed());
  EXPECT_EQ(es[2].entry_rejected().reason(), pb::REJECT_HOLD_EXPIRED);
  EXPECT_EQ(h.C("c").snap.confirmed(), 0u);
}

TEST(Holds, ExpiriesFollowDeadlineOrderNotPositionOrder) {
  Harness h;
  h.CreateHeld("c", 3, 10000, 10);
  h.Enter("c", "a", kT0 + 3 * kS);
  h.Enter("c", "b", kT0 + 1 * kS);  // a later position with an earlier deadline
  h.Enter("c", "c", kT0 + 2 * kS);
  auto es = h.Tick("c", kT0 + 20 * kS);
  std::vector<std::string> order;
  for (const auto& e : es)
    if (e.has_hold_expired()) order.push_back(e.hold_expired().user_id());
  EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(h.C("c").snap.stock_left(), 3u);
}

TEST(Holds, HoldSZeroKeepsTodaysFinalWinAndItCanStillBeConfirmed) {
  Harness h;
  h.Create("c", 1, 10000);
  auto es = h.Enter("c", "alice");
  EXPECT_EQ(Find(es, E::kDrawResolved)->draw_resolved().hold_until_ms(), 0u);
  EXPECT_TRUE(h.C("c").hold_until.empty());
  EXPECT_EQ(Count(h.Tick("c", kT0 + 86400 * kS), E::kHoldExpired), 0);
  EXPECT_EQ(Count(h.Confirm("c", "alice", "c:1"), E::kEntryConfirmed), 1);
}

TEST(Holds, GivingBackAHeldWinReturnsItsUnitOnce) {
  Harness h;
  h.CreateHeld("c", 1, 10000, 60);
  h.Enter("c", "alice");
  auto es = h.Cancel("c", "alice", kT0 + kS);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_TRUE(es[0].has_entry_cancelled());
  EXPECT_EQ(es[1].stock_changed().reason(), pb::STOCK_CANCELLATION);
  EXPECT_TRUE(h.C("c").hold_until.empty());
  // The released hold never expires later.
  EXPECT_EQ(Count(h.Tick("c", kT0 + 120 * kS), E::kHoldExpired), 0);
  EXPECT_EQ(h.C("c").snap.stock_left(), 1u);
}

// Draw at close: entries only queue; the close draws them all.
class AtClose : public ::testing::Test {
 protected:
  void Enter(int n, uint64_t t = kT0) {
    for (int i = 0; i < n; ++i) h.Enter("c", "user-" + std::to_string(i), t + i);
  }
  std::map<pb::Outcome, int> Outcomes(const std::vector<pb::Event>& es) {
    std::map<pb::Outcome, int> n;
    for (const auto& e : es)
      if (e.has_draw_resolved()) n[e.draw_resolved().outcome()]++;
    return n;
  }
  Harness h;
};

TEST_F(AtClose, EntriesAreCollectedAndNothingIsDrawnWhileOpen) {
  h.CreateHeld("c", 3, 10000, 0, pb::DRAW_AT_CLOSE);
  auto es = h.Enter("c", "alice");
  ASSERT_EQ(es.size(), 1u);
  EXPECT_TRUE(es[0].has_queue_entered());
  EXPECT_EQ(Count(h.Tick("c", kT0 + 60 * kS), E::kEntryAdmitted), 0);
  // Resuming after a pause admits nobody either.
  h.Simple("c", pb::Command::kPauseAdmission);
  EXPECT_EQ(Count(h.Simple("c", pb::Command::kResumeAdmission), E::kDrawResolved), 0);
  EXPECT_EQ(h.C("c").snap.serving(), 0u);
}

TEST_F(AtClose, TheCloseNeedsExactlyTheCommittedEntropy) {
  h.CreateHeld("c", 3, 10000, 0, pb::DRAW_AT_CLOSE, "drand quicknet round 1234567");
  Enter(5);
  EXPECT_EQ(RejectOf(h.Close("c", "")), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.Close("c", std::string(257, 'v'))), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_FALSE(h.C("c").snap.closed());
  Harness plain;
  plain.CreateHeld("c", 3, 10000, 0, pb::DRAW_AT_CLOSE);
  EXPECT_EQ(RejectOf(plain.Close("c", "a value nobody committed to")), pb::REJECT_INVALID_ARGUMENT);
}

TEST_F(AtClose, TheStockSmallestEligibleValuesWinAndTheRestWaitInValueOrder) {
  const std::string value = "8f1c0e3ab2";
  h.CreateHeld("c", 10, 5000, 0, pb::DRAW_AT_CLOSE, "drand quicknet round 7");
  Enter(200);
  auto es = h.Close("c", value, kT0 + kS);
  ASSERT_TRUE(es[0].has_campaign_closed());
  EXPECT_EQ(es[0].campaign_closed().entropy_value(), value);
  // Re-derive from the rule in draw.h.
  const CampaignState& c = h.C("c");
  Drawer drawer(AtCloseKey(c.seed, true, value));
  std::vector<std::pair<uint64_t, uint64_t>> eligible;
  for (uint64_t p = 1; p <= 200; ++p) {
    uint64_t v = drawer.DrawValue("c", p, c.user_at(p));
    if (UnderThreshold(v, 5000)) eligible.emplace_back(v, p);
  }
  std::sort(eligible.begin(), eligible.end());
  ASSERT_GT(eligible.size(), 10u);
  std::map<uint64_t, uint64_t> rank;  // position -> rank among the eligible, from 1
  for (size_t r = 0; r < eligible.size(); ++r) rank[eligible[r].second] = r + 1;
  int won = 0, waitlisted = 0, lost = 0;
  for (const auto& e : es) {
    if (!e.has_draw_resolved()) continue;
    const auto& d = e.draw_resolved();
    EXPECT_EQ(d.draw_value(), drawer.DrawValue("c", d.position(), d.user_id()));
    auto r = rank.find(d.position());
    if (r == rank.end()) {
      EXPECT_EQ(d.outcome(), pb::OUTCOME_LOST) << d.position();
      ++lost;
    } else if (r->second <= 10) {
      EXPECT_EQ(d.outcome(), pb::OUTCOME_WON) << d.position();
      ++won;
    } else {
      EXPECT_EQ(d.outcome(), pb::OUTCOME_WAITLISTED) << d.position();
      EXPECT_EQ(d.waitlist_rank(), r->second - 10);
      ++waitlisted;
    }
  }
  EXPECT_EQ(won, 10);
  EXPECT_EQ(waitlisted, static_cast<int>(eligible.size()) - 10);
  EXPECT_EQ(lost, 200 - static_cast<int>(eligible.size()));
  EXPECT_EQ(c.snap.serving(), 200u);
  EXPECT_EQ(c.waitlist.size(), eligible.size() - 10);
  EXPECT_TRUE(CheckInvariants(c).ok());
}

TEST_F(AtClose, AnotherEntropyValueDrawsOtherWinners) {
  auto winners = [](const std::string& value) {
    Harness x;
    x.CreateHeld("c", 5, 10000, 0, pb::DRAW_AT_CLOSE, "the closing price");
    for (int i = 0; i < 100; ++i) x.Enter("c", "user-" + std::to_string(i));
    std::vector<uint64_t> won;
    for (const auto& e : x.Close("c", value))
      if (e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_WON)
        won.push_back(e.draw_resolved().position());
    return won;
  };
  EXPECT_EQ(winners("101.25").size(), 5u);
  EXPECT_EQ(winners("101.25"), winners("101.25"));  // a pure function of the log
  EXPECT_NE(winners("101.25"), winners("101.26"));
}

TEST_F(AtClose, FewerEligibleThanStockAllWinAndNobodyWaits) {
  h.CreateHeld("c", 50, 10000, 0, pb::DRAW_AT_CLOSE);
  Enter(20);
  auto n = Outcomes(h.Close("c"));
  EXPECT_EQ(n[pb::OUTCOME_WON], 20);
  EXPECT_EQ(n[pb::OUTCOME_WAITLISTED], 0);
  EXPECT_EQ(h.C("c").snap.stock_left(), 30u);
}

TEST_F(AtClose, ReleasesExpiriesAndRestocksPromoteTheWaitlistHeadOncePerUnit) {
  h.CreateHeld("c", 3, 10000, 60, pb::DRAW_AT_CLOSE);
  Enter(8);
  h.Close("c", "", kT0 + kS);
  const CampaignState& c = h.C("c");
  ASSERT_EQ(c.waitlist.size(), 5u);
  std::vector<std::string> winners;
  for (uint64_t p = 1; p <= 8; ++p)
    if (c.status[p - 1] == EntryStatus::kWon) winners.push_back(c.user_at(p));
  ASSERT_EQ(winners.size(), 3u);
  const uint64_t head = c.waitlist[0], second = c.waitlist[1];

  // A release: the unit goes to the waitlist head, with its own hold.
  auto es = h.Cancel("c", winners[0], kT0 + 2 * kS);
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[1].stock_changed().stock_left(), 1u);
  EXPECT_EQ(es[2].entry_promoted().position(), head);
  EXPECT_EQ(es[2].entry_promoted().waitlist_rank(), 1u);
  EXPECT_EQ(es[2].entry_promoted().hold_until_ms(), kT0 + 2 * kS + 60 * kS);
  EXPECT_EQ(es[2].entry_promoted().stock_left(), 0u);
  EXPECT_EQ(c.status[head - 1], EntryStatus::kWon);
  // A confirmation keeps its unit; the two other winners expire at 61 s and
  // their units go to ranks 2 and 3.
  h.Confirm("c", winners[1], PassId("c", c.position_of.find(winners[1])->second), kT0 + 3 * kS);
  es = h.Tick("c", kT0 + 61 * kS);
  EXPECT_EQ(Count(es, E::kHoldExpired), 1);
  EXPECT_EQ(Count(es, E::kEntryPromoted), 1);
  EXPECT_EQ(Find(es, E::kEntryPromoted)->entry_promoted().position(), second);
  // A restock of 5: three more promotions empty the waitlist; two units stay.
  es = h.Restock("c", 5, kT0 + 61 * kS + 500);  // before the head's hold ends at 62 s
  EXPECT_EQ(Count(es, E::kEntryPromoted), 3);
  EXPECT_EQ(c.snap.promoted(), 5u);
  EXPECT_EQ(c.snap.stock_left(), 2u);
  EXPECT_EQ(Count(h.Restock("c", 1, kT0 + 61 * kS + 600), E::kEntryPromoted), 0);
  // At 62 s the head's own hold expires: nobody is left to take its unit.
  es = h.Tick("c", kT0 + 62 * kS);
  EXPECT_EQ(Count(es, E::kHoldExpired), 1);
  EXPECT_EQ(Count(es, E::kEntryPromoted), 0);
  EXPECT_EQ(c.snap.stock_left(), 4u);
  EXPECT_TRUE(CheckInvariants(c).ok());
}

TEST_F(AtClose, NobodyIsPromotedBeforeTheDraw) {
  h.CreateHeld("c", 1, 10000, 60, pb::DRAW_AT_CLOSE);
  Enter(3);
  EXPECT_EQ(Count(h.Restock("c", 2), E::kEntryPromoted), 0);
  EXPECT_EQ(RejectOf(h.Cancel("c", "user-0")), pb::REJECT_NOT_CANCELLABLE);
}

// Fold refuses a ledger whose promotions skip the waitlist's order.
TEST_F(AtClose, FoldRefusesAPromotionOutOfWaitlistOrder) {
  h.CreateHeld("c", 1, 10000, 60, pb::DRAW_AT_CLOSE);
  Enter(4);
  h.Close("c");
  const CampaignState& c = h.C("c");
  ASSERT_EQ(c.waitlist.size(), 3u);
  std::string winner;
  for (uint64_t p = 1; p <= 4; ++p)
    if (c.status[p - 1] == EntryStatus::kWon) winner = c.user_at(p);
  // Decide a cancel on a copy, then tamper with the promotion before folding.
  Harness copy;
  for (const pb::Command& cmd : h.commands) copy.Run(cmd);
  pb::Command cancel = Harness::Cmd("c", kT0 + kS);
  cancel.mutable_cancel_entry()->set_user_id(winner);
  auto es = copy.Run(cancel);
  ASSERT_TRUE(es.back().has_entry_promoted());
  EventList decided;
  ASSERT_TRUE(Decide(h.state, h.config, h.limits, cancel, 99, &decided).ok());
  pb::Event& promo = decided[decided.size() - 1];
  promo.mutable_entry_promoted()->set_position(c.waitlist[1]);
  promo.mutable_entry_promoted()->set_user_id(c.user_at(c.waitlist[1]));
  absl::Status st;
  for (pb::Event& e : decided) {
    e.set_sequence(h.state.next_sequence);
    st = Fold(&h.state, h.config, e, EncodeDeterministic(e));
    if (!st.ok()) break;
  }
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("head of the waitlist"), std::string_view::npos) << st;
}

TEST(Receipts, CampaignClosedCarriesTheEntriesMerkleRoot) {
  Harness h;
  h.Create("c", 5, 10000);
  for (int i = 0; i < 13; ++i) h.Enter("c", "user-" + std::to_string(i), kT0 + i * 7);
  auto es = h.Close("c", "", kT0 + kS);
  ASSERT_EQ(es.size(), 1u);
  const auto& closed = es[0].campaign_closed();
  EXPECT_EQ(closed.merkle_leaves(), 13u);
  std::vector<Hash> leaves;
  for (int i = 0; i < 13; ++i)
    leaves.push_back(MerkleLeafHash(MerkleLeaf(i + 1, kT0 + i * 7, "user-" + std::to_string(i))));
  const Hash root = MerkleTree(leaves).Root();
  EXPECT_EQ(closed.merkle_root(), std::string(reinterpret_cast<const char*>(root.data()), 32));
  EXPECT_EQ(h.C("c").snap.merkle_root(), closed.merkle_root());
  // The state keeps what a proof needs: every entry's time.
  EXPECT_EQ(h.C("c").entered_ms[12], kT0 + 12 * 7);
}

TEST(Receipts, ARandomCampaignClosedBeforeItsOpeningRootsThePositionsItGaveThere) {
  Harness h;
  h.Create("c", 5, 10000, 0, pb::QUEUEING_RANDOM, kT0 + 3600 * kS);
  for (int i = 0; i < 4; ++i) h.Enter("c", "user-" + std::to_string(i));
  auto es = h.Close("c", "", kT0 + kS);
  const pb::Event* closed = Find(es, E::kCampaignClosed);
  ASSERT_NE(closed, nullptr);
  EXPECT_EQ(closed->campaign_closed().merkle_leaves(), 4u);
  const CampaignState& c = h.C("c");
  const Hash root = MerkleRoot(
      4, [&](uint64_t i) { return MerkleLeafHash(MerkleLeaf(i + 1, kT0 + kS, c.user_at(i + 1))); });
  EXPECT_EQ(closed->campaign_closed().merkle_root(),
            std::string(reinterpret_cast<const char*>(root.data()), 32));
}

}  // namespace
}  // namespace tl::testing
