// Issue 15's decide/fold rules, one behaviour per test: items with their own
// stock, quantities all or nothing, choosing at entry or on admission, and
// how holds, restocks and the at-close draw work per item.
#include <map>

#include "engine/core/fold.h"
#include "engine/core/names.h"
#include "tests/support/harness.h"

namespace tl::testing {
namespace {

using E = pb::Event;
constexpr uint64_t kS = 1000;

const pb::Event* Find(const std::vector<pb::Event>& es, E::BodyCase which) {
  for (const auto& e : es)
    if (e.body_case() == which) return &e;
  return nullptr;
}

TEST(Items, CreateValidatesItemsAndChoiceOptions) {
  Harness h;
  using S = Harness::ItemSpec;
  EXPECT_EQ(RejectOf(h.CreateItems("c", {{"a", 1}, {"a", 2}}, pb::CHOOSE_AT_ENTRY)),
            pb::REJECT_INVALID_ARGUMENT);  // an id twice
  EXPECT_EQ(RejectOf(h.CreateItems("c", {{"bad id", 1}}, pb::CHOOSE_AT_ENTRY)),
            pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.CreateItems("c", {{"a", 1}}, pb::CHOOSE_ON_ADMISSION, 1, 0)),
            pb::REJECT_INVALID_ARGUMENT);  // no time to choose
  EXPECT_EQ(RejectOf(h.CreateItems("c", {{"a", 1}}, pb::CHOOSE_AT_ENTRY, 1, 30)),
            pb::REJECT_INVALID_ARGUMENT);  // choose_s without on_admission
  EXPECT_EQ(
      RejectOf(h.CreateItems("c", {{"a", 1}}, pb::CHOOSE_AT_ENTRY, h.limits.quantity_max + 1)),
      pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(RejectOf(h.CreateItems("c", {{"a", 1}}, pb::CHOOSE_ON_ADMISSION, 1, 30, 0, 10000, kT0,
                                   0, pb::DRAW_AT_CLOSE)),
            pb::REJECT_INVALID_ARGUMENT);
  std::vector<S> many;
  for (size_t i = 0; i <= h.limits.items_per_campaign_max; ++i)
    many.push_back({"i" + std::to_string(i), 1});
  EXPECT_EQ(RejectOf(h.CreateItems("c", many, pb::CHOOSE_AT_ENTRY)), pb::REJECT_INVALID_ARGUMENT);
  pb::Command both = Harness::Cmd("c", kT0);
  both.mutable_create_campaign()->set_stock(5);
  both.mutable_create_campaign()->add_items()->set_id("a");
  EXPECT_EQ(RejectOf(h.Run(both)), pb::REJECT_INVALID_ARGUMENT);  // stock is per item
  pb::Command plain_max = Harness::Cmd("c", kT0);
  plain_max.mutable_create_campaign()->set_per_user_max(2);
  EXPECT_EQ(RejectOf(h.Run(plain_max)), pb::REJECT_INVALID_ARGUMENT);
  auto ok = h.CreateItems("c", {{"s", 3}, {"m", 4}}, pb::CHOOSE_AT_ENTRY, 2);
  ASSERT_EQ(Count(ok, E::kCampaignCreated), 1);
  EXPECT_EQ(h.C("c").snap.stock_left(), 7u);
  EXPECT_EQ(h.C("c").snap.items(1).stock_left(), 4u);
}

TEST(Items, AtEntryDrawsPerItemAllOrNothing) {
  Harness h;
  h.CreateItems("c", {{"s", 3}, {"m", 2, 1}}, pb::CHOOSE_AT_ENTRY, /*per_user_max=*/4);
  auto es = h.EnterItem("c", "alice", "s", 2);
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[0].queue_entered().item_id(), "s");
  EXPECT_EQ(es[0].queue_entered().quantity(), 2u);
  const auto& d = es[2].draw_resolved();
  EXPECT_EQ(d.outcome(), pb::OUTCOME_WON);
  EXPECT_EQ(d.item_stock_left(), 1u);
  EXPECT_EQ(d.stock_left(), 3u);
  // Two asked for, one left: not partly filled.
  auto full = h.EnterItem("c", "bob", "s", 2);
  EXPECT_EQ(full[2].draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_EQ(h.C("c").snap.items(0).stock_left(), 1u);
  // One fits.
  EXPECT_EQ(h.EnterItem("c", "carol", "s", 1)[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  // The other item is untouched by the first selling out.
  EXPECT_EQ(h.EnterItem("c", "dave", "m", 1)[2].draw_resolved().outcome(), pb::OUTCOME_WON);
  // Refused before queueing: an unknown item, no item, more than allowed.
  EXPECT_EQ(RejectOf(h.EnterItem("c", "erin", "xl", 1)), pb::REJECT_UNKNOWN_ITEM);
  EXPECT_EQ(RejectOf(h.Enter("c", "erin")), pb::REJECT_UNKNOWN_ITEM);
  EXPECT_EQ(RejectOf(h.EnterItem("c", "erin", "m", 2)), pb::REJECT_QUANTITY);  // item max 1
  EXPECT_EQ(RejectOf(h.EnterItem("c", "erin", "s", 5)), pb::REJECT_QUANTITY);  // campaign max 4
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST(Items, GivingBackAndExpiryReturnExactlyTheQuantityTaken) {
  Harness h;
  h.CreateItems("c", {{"s", 5}}, pb::CHOOSE_AT_ENTRY, 3, 0, 0, 10000, kT0, /*hold_s=*/10);
  h.EnterItem("c", "alice", "s", 3);
  h.EnterItem("c", "bob", "s", 2);
  EXPECT_EQ(h.C("c").snap.stock_left(), 0u);
  auto es = h.Cancel("c", "alice", kT0 + kS);
  const pb::Event* sc = Find(es, E::kStockChanged);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->stock_changed().delta(), 3);
  EXPECT_EQ(sc->stock_changed().item_id(), "s");
  EXPECT_EQ(sc->stock_changed().item_stock_left(), 3u);
  es = h.Tick("c", kT0 + 10 * kS);  // bob's hold expires
  sc = Find(es, E::kStockChanged);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->stock_changed().delta(), 2);
  EXPECT_EQ(h.C("c").snap.items(0).stock_left(), 5u);
  EXPECT_EQ(h.C("c").snap.items(0).returned(), 5u);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST(Items, RestockNamesItsItem) {
  Harness h;
  h.CreateItems("c", {{"s", 1}, {"m", 1}}, pb::CHOOSE_AT_ENTRY);
  EXPECT_EQ(RejectOf(h.Restock("c", 2)), pb::REJECT_UNKNOWN_ITEM);
  pb::Command r = Harness::Cmd("c", kT0);
  r.mutable_restock()->set_units(2);
  r.mutable_restock()->set_item_id("m");
  auto es = h.Run(r);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].stock_changed().item_stock_left(), 3u);
  EXPECT_EQ(es[0].stock_changed().stock_left(), 4u);
  EXPECT_EQ(h.C("c").snap.items(1).restocked(), 2u);
  Harness plain;
  plain.Create("p", 1, 10000);
  pb::Command named = Harness::Cmd("p", kT0);
  named.mutable_restock()->set_units(1);
  named.mutable_restock()->set_item_id("m");
  EXPECT_EQ(RejectOf(plain.Run(named)), pb::REJECT_UNKNOWN_ITEM);
}

// The pop-up booking: everyone queues; the admitted pick a slot in time.
class OnAdmission : public ::testing::Test {
 protected:
  void SetUp() override {
    h.CreateItems("c", {{"14-00", 2}, {"14-30", 1}}, pb::CHOOSE_ON_ADMISSION, 2, /*choose_s=*/30);
  }
  Harness h;
};

TEST_F(OnAdmission, AdmittedUsersChooseFirstComeFirstServed) {
  auto es = h.Enter("c", "alice");
  const pb::Event* d = Find(es, E::kDrawResolved);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->draw_resolved().outcome(), pb::OUTCOME_ADMITTED);
  EXPECT_EQ(d->draw_resolved().choose_until_ms(), kT0 + 30 * kS);
  EXPECT_EQ(h.C("c").status[0], EntryStatus::kAdmitted);
  EXPECT_EQ(RejectOf(h.EnterItem("c", "x", "14-00", 1)), pb::REJECT_UNKNOWN_ITEM);  // not now
  h.Enter("c", "bob");
  // Bob asks for more than is left of 14:30: refused whole; he picks 14:00.
  EXPECT_EQ(RejectOf(h.Choose("c", "bob", "14-30", 2, kT0 + kS)), pb::REJECT_ITEM_FULL);
  auto chosen = h.Choose("c", "bob", "14-00", 2, kT0 + kS);
  ASSERT_EQ(Count(chosen, E::kItemChosen), 1);
  EXPECT_EQ(chosen[0].item_chosen().item_stock_left(), 0u);
  EXPECT_EQ(chosen[0].item_chosen().stock_left(), 1u);
  // Alice came first but chose later: 14:00 is full now.
  EXPECT_EQ(RejectOf(h.Choose("c", "alice", "14-00", 1, kT0 + 2 * kS)), pb::REJECT_ITEM_FULL);
  EXPECT_EQ(Count(h.Choose("c", "alice", "14-30", 1, kT0 + 2 * kS), E::kItemChosen), 1);
  // One choice per admission; nobody else was admitted (no stock left).
  EXPECT_EQ(RejectOf(h.Choose("c", "alice", "14-30", 1, kT0 + 3 * kS)), pb::REJECT_ALREADY_CHOSEN);
  auto carol = h.Enter("c", "carol");
  EXPECT_EQ(Find(carol, E::kDrawResolved)->draw_resolved().outcome(), pb::OUTCOME_SOLD_OUT);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

TEST_F(OnAdmission, TheQueueWaitsWhileTheAdmittedCouldTakeEverythingLeft) {
  // 3 units: three admitted users could take them all; the fourth waits.
  for (const char* u : {"a", "b", "c", "d"}) h.Enter("c", u);
  const CampaignState& c = h.C("c");
  EXPECT_EQ(c.snap.serving(), 3u);
  EXPECT_EQ(c.snap.admitted_choosing(), 3u);
  EXPECT_EQ(RejectOf(h.Choose("c", "d", "14-00", 1)), pb::REJECT_NOT_ADMITTED);
  // "a" chooses one unit: 2 left for 2 choosing, still nobody new. "b"'s
  // time runs out: the place goes to "d".
  h.Choose("c", "a", "14-00", 1, kT0 + kS);
  EXPECT_EQ(c.snap.serving(), 3u);
  h.Choose("c", "c", "14-00", 1, kT0 + 2 * kS);
  EXPECT_EQ(c.snap.serving(), 3u);  // 1 left, "b" still choosing
  auto es = h.Tick("c", kT0 + 30 * kS);
  ASSERT_GE(es.size(), 3u);
  EXPECT_EQ(es[0].choice_expired().user_id(), "b");
  EXPECT_EQ(Find(es, E::kDrawResolved)->draw_resolved().user_id(), "d");
  EXPECT_EQ(c.status[1], EntryStatus::kChoiceExpired);
  EXPECT_EQ(RejectOf(h.Choose("c", "b", "14-30", 1, kT0 + 31 * kS)), pb::REJECT_CHOICE_EXPIRED);
  EXPECT_EQ(Count(h.Choose("c", "d", "14-30", 1, kT0 + 31 * kS), E::kItemChosen), 1);
  EXPECT_EQ(c.snap.stock_left(), 0u);
  EXPECT_TRUE(CheckInvariants(c).ok());
}

TEST_F(OnAdmission, AChoiceAtItsDeadlineIsTooLate) {
  h.Enter("c", "a");
  auto es = h.Choose("c", "a", "14-00", 1, kT0 + 30 * kS);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_TRUE(es[0].has_choice_expired());
  EXPECT_EQ(es[1].entry_rejected().reason(), pb::REJECT_CHOICE_EXPIRED);
}

TEST(Items, AtCloseDrawsEachItemAndItsWaitlistPromotesWhenTheWholeQuantityFits) {
  Harness h;
  h.CreateItems("c", {{"s", 2}, {"m", 3}}, pb::CHOOSE_AT_ENTRY, 2, 0, 0, 10000, kT0, 60,
                pb::DRAW_AT_CLOSE);
  for (int i = 0; i < 6; ++i) h.EnterItem("c", "s" + std::to_string(i), "s", 1 + i % 2);
  for (int i = 0; i < 4; ++i) h.EnterItem("c", "m" + std::to_string(i), "m", 1);
  auto es = h.Close("c", "", kT0 + kS);
  const CampaignState& c = h.C("c");
  std::map<std::string, uint64_t> won_units;
  for (const auto& e : es)
    if (e.has_draw_resolved() && e.draw_resolved().outcome() == pb::OUTCOME_WON)
      won_units[e.draw_resolved().item_id()] += e.draw_resolved().quantity();
  EXPECT_LE(won_units["s"], 2u);
  EXPECT_EQ(won_units["m"], 3u);
  EXPECT_EQ(c.item_waitlists[1].size(), 1u);
  EXPECT_FALSE(c.item_waitlists[0].empty());
  EXPECT_TRUE(CheckInvariants(c).ok());
  // Restock "m" by 1: its waitlist head (one unit) is promoted; "s" waits.
  pb::Command r = Harness::Cmd("c", kT0 + 2 * kS);
  r.mutable_restock()->set_units(1);
  r.mutable_restock()->set_item_id("m");
  auto promoted = h.Run(r);
  const pb::Event* p = Find(promoted, E::kEntryPromoted);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->entry_promoted().item_id(), "m");
  EXPECT_EQ(p->entry_promoted().position(), c.item_waitlists[1][0]);
  EXPECT_EQ(c.PromotedOf(0), 0u);
  EXPECT_TRUE(CheckInvariants(c).ok());
}

TEST(Items, ACampaignWithoutItemsRefusesItemFields) {
  Harness h;
  h.Create("c", 5, 10000);
  EXPECT_EQ(RejectOf(h.EnterItem("c", "alice", "s", 1)), pb::REJECT_UNKNOWN_ITEM);
  EXPECT_EQ(RejectOf(h.EnterItem("c", "alice", "", 2)), pb::REJECT_UNKNOWN_ITEM);
  EXPECT_EQ(RejectOf(h.Choose("c", "alice", "s", 1)), pb::REJECT_NOT_ADMITTED);
  auto es = h.Enter("c", "alice");
  EXPECT_TRUE(es[2].draw_resolved().item_id().empty());
  EXPECT_TRUE(h.C("c").item_of.empty());
}

TEST(Items, ARandomQueueKeepsWhatEachPrequeuedUserAskedFor) {
  Harness h;
  pb::Command c = Harness::Cmd("c", kT0);
  auto* cc = c.mutable_create_campaign();
  cc->set_win_bps(10000);
  cc->set_per_user_max(3);
  cc->set_queueing(pb::QUEUEING_RANDOM);
  cc->set_opens_at_ms(kT0 + 60 * kS);
  for (const char* id : {"s", "m"}) {
    pb::Item* item = cc->add_items();
    item->set_id(id);
    item->set_stock(10);
  }
  h.Run(c);
  h.EnterItem("c", "alice", "m", 3);
  h.EnterItem("c", "bob", "s", 1);
  auto es = h.Tick("c", kT0 + 60 * kS);
  std::map<std::string, std::pair<std::string, uint32_t>> asked;
  for (const auto& e : es)
    if (e.has_queue_entered())
      asked[e.queue_entered().user_id()] = {e.queue_entered().item_id(),
                                            e.queue_entered().quantity()};
  EXPECT_EQ(asked["alice"], std::make_pair(std::string("m"), 3u));
  EXPECT_EQ(asked["bob"], std::make_pair(std::string("s"), 1u));
  EXPECT_EQ(h.C("c").snap.items(1).stock_left(), 7u);
  EXPECT_TRUE(CheckInvariants(h.C("c")).ok());
}

}  // namespace
}  // namespace tl::testing
