// projections/delta: what a batch of ledger events changes, per campaign, in
// ledger order (later events win); the one summary both read models write.
#include "projections/delta.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tl::proj {
namespace {

// Builds a batch: each call appends one event with the next sequence.
class Batch {
 public:
  pb::Event& Add(const std::string& campaign, uint64_t time_ms = 0) {
    pb::Event& e = events_.emplace_back();
    e.set_sequence(++sequence_);
    e.set_campaign_id(campaign);
    e.set_time_ms(time_ms);
    return e;
  }
  void Created(const std::string& c, uint64_t stock, uint64_t time_ms = 0) {
    Add(c, time_ms).mutable_campaign_created()->mutable_config()->set_stock(stock);
  }
  void Entered(const std::string& c, const std::string& user, uint64_t position,
               uint64_t time_ms = 0, const std::string& prequeue_key = "") {
    auto* q = Add(c, time_ms).mutable_queue_entered();
    q->set_user_id(user);
    q->set_position(position);
    q->set_prequeue_key(prequeue_key);
  }
  void Drawn(const std::string& c, const std::string& user, uint64_t position, pb::Outcome o,
             uint64_t stock_left, uint64_t time_ms = 0) {
    auto* d = Add(c, time_ms).mutable_draw_resolved();
    d->set_user_id(user);
    d->set_position(position);
    d->set_outcome(o);
    d->set_draw_value(position * 1000);
    d->set_stock_left(stock_left);
  }
  void Stock(const std::string& c, int64_t delta, pb::StockReason reason, uint64_t stock_left) {
    auto* s = Add(c).mutable_stock_changed();
    s->set_delta(delta);
    s->set_reason(reason);
    s->set_stock_left(stock_left);
  }
  void Cancelled(const std::string& c, const std::string& user, uint64_t position,
                 uint64_t time_ms = 0) {
    auto* x = Add(c, time_ms).mutable_entry_cancelled();
    x->set_user_id(user);
    x->set_position(position);
  }
  pb::Event& Last() { return events_.back(); }
  uint64_t sequence() const { return sequence_; }
  const std::vector<pb::Event>& events() const { return events_; }

 private:
  uint64_t sequence_ = 100;
  std::vector<pb::Event> events_;
};

TEST(Delta, NothingInNothingOut) { EXPECT_TRUE(Summarize({}).empty()); }

TEST(Delta, CreationSetsTheStartingValues) {
  Batch b;
  b.Created("c1", 5, /*time_ms=*/1234);
  auto out = Summarize(b.events());
  ASSERT_EQ(out.size(), 1u);
  const CampaignDelta& d = out.at("c1");
  EXPECT_EQ(d.id, "c1");
  ASSERT_TRUE(d.created.has_value());
  EXPECT_EQ(d.created->config().stock(), 5u);
  EXPECT_EQ(d.created_at_ms, 1234u);
  EXPECT_EQ(d.stock_left, 5u);
  EXPECT_EQ(d.closed, false);
  EXPECT_EQ(d.paused, false);
  EXPECT_FALSE(d.entries.has_value());
  EXPECT_FALSE(d.serving.has_value());
  EXPECT_EQ(d.last_sequence, 101u);
}

TEST(Delta, CampaignsAreSummarizedApart) {
  Batch b;
  b.Created("a", 1);
  b.Created("b", 2);
  b.Entered("a", "alice", 1);
  b.Entered("b", "bob", 1);
  b.Entered("b", "carol", 2);
  auto out = Summarize(b.events());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.at("a").entered.size(), 1u);
  EXPECT_EQ(out.at("a").last_sequence, 103u);
  EXPECT_EQ(out.at("b").entered.size(), 2u);
  EXPECT_EQ(out.at("b").last_sequence, 105u);
  EXPECT_EQ(out.at("b").entries, 2u);
  EXPECT_EQ(out.at("a").entered.at(1).user, "alice");
}

TEST(Delta, EntryAndItsDrawInOneBatchAreOneRow) {
  Batch b;
  b.Entered("c", "alice", 1, /*time_ms=*/10);
  b.Add("c").mutable_entry_admitted()->set_position(1);
  b.Drawn("c", "alice", 1, pb::OUTCOME_WON, 4, /*time_ms=*/20);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_TRUE(d.changed.empty());
  ASSERT_EQ(d.entered.size(), 1u);
  const EntryRow& r = d.entered.at(1);
  EXPECT_EQ(r.position, 1u);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.entered_sequence, 101u);
  EXPECT_EQ(r.entered_at_ms, 10u);
  EXPECT_EQ(r.outcome, "won");
  EXPECT_EQ(r.draw_value, 1000u);
  EXPECT_EQ(r.decided_at_ms, 20u);
  EXPECT_EQ(r.decided_sequence, 103u);
  EXPECT_EQ(d.serving, 1u);
  EXPECT_EQ(d.stock_left, 4u);
  EXPECT_EQ(d.won, 1);
  EXPECT_EQ(d.lost, 0);
}

TEST(Delta, DrawOfAnEarlierEntryIsAChangedRow) {
  Batch b;
  b.Drawn("c", "bob", 7, pb::OUTCOME_LOST, 3, /*time_ms=*/55);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_TRUE(d.entered.empty());
  ASSERT_EQ(d.changed.size(), 1u);
  const EntryRow& r = d.changed.at(7);
  EXPECT_EQ(r.position, 7u);
  EXPECT_EQ(r.user, "bob");
  EXPECT_EQ(r.entered_sequence, 0u);  // entered before this batch
  EXPECT_EQ(r.outcome, "lost");
  EXPECT_EQ(r.decided_at_ms, 55u);
  EXPECT_EQ(d.lost, 1);
  EXPECT_FALSE(d.entries.has_value());
}

TEST(Delta, EachOutcomeCountsOnce) {
  Batch b;
  b.Drawn("c", "u1", 1, pb::OUTCOME_WON, 1);
  b.Drawn("c", "u2", 2, pb::OUTCOME_WON, 0);
  b.Drawn("c", "u3", 3, pb::OUTCOME_SOLD_OUT, 0);
  b.Drawn("c", "u4", 4, pb::OUTCOME_LOST, 0);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.won, 2);
  EXPECT_EQ(d.sold_out, 1);
  EXPECT_EQ(d.lost, 1);
  EXPECT_EQ(d.changed.at(3).outcome, "sold_out");
  EXPECT_EQ(d.stock_left, 0u);
}

TEST(Delta, CancellationAfterAWinInTheSameBatch) {
  Batch b;
  b.Entered("c", "alice", 1);
  b.Drawn("c", "alice", 1, pb::OUTCOME_WON, 0, /*time_ms=*/5);
  b.Cancelled("c", "alice", 1, /*time_ms=*/9);
  b.Stock("c", 1, pb::STOCK_CANCELLATION, 1);
  const CampaignDelta d = Summarize(b.events()).at("c");
  ASSERT_EQ(d.entered.size(), 1u);
  EXPECT_TRUE(d.changed.empty());
  const EntryRow& r = d.entered.at(1);
  EXPECT_EQ(r.outcome, "cancelled");  // the later event wins
  EXPECT_EQ(r.decided_at_ms, 9u);
  EXPECT_EQ(r.decided_sequence, 103u);
  EXPECT_EQ(r.draw_value, 1000u);  // kept from the draw
  EXPECT_EQ(d.won, 1);
  EXPECT_EQ(d.cancelled, 1);
  EXPECT_EQ(d.restocked, 0);  // a cancellation gives stock back, it is no restock
  ASSERT_EQ(d.stock.size(), 1u);
  EXPECT_EQ(d.stock[0].reason, "cancellation");
  EXPECT_EQ(d.stock_left, 1u);
}

TEST(Delta, CancellationOfAnEarlierEntry) {
  Batch b;
  b.Cancelled("c", "bob", 4);
  const CampaignDelta d = Summarize(b.events()).at("c");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed.at(4).user, "bob");
  EXPECT_EQ(d.changed.at(4).outcome, "cancelled");
  EXPECT_EQ(d.cancelled, 1);
}

TEST(Delta, RestocksAddUpAndTheLastStockLeftWins) {
  Batch b;
  b.Stock("c", 3, pb::STOCK_RESTOCK, 3);
  b.Drawn("c", "u", 1, pb::OUTCOME_WON, 2);
  b.Stock("c", 5, pb::STOCK_RESTOCK, 7);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.restocked, 8);
  EXPECT_EQ(d.stock_left, 7u);
  ASSERT_EQ(d.stock.size(), 2u);
  EXPECT_EQ(d.stock[0].sequence, 101u);
  EXPECT_EQ(d.stock[0].delta, 3);
  EXPECT_EQ(d.stock[0].reason, "restock");
  EXPECT_EQ(d.stock[1].stock_left, 7u);
}

TEST(Delta, PrequeueInAndOut) {
  Batch b;
  b.Add("c").mutable_entry_prequeued()->set_user_id("alice");
  b.Add("c").mutable_entry_prequeued()->set_user_id("bob");
  b.Entered("c", "bob", 1, 0, /*prequeue_key=*/"k-bob");
  b.Entered("c", "carol", 2);  // straight in, never pre-queued
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.prequeued, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(d.prequeued_delta, 1);  // +2 in, -1 out
  EXPECT_EQ(d.entries, 2u);

  // Leaving the pre-queue in a later batch counts down from earlier ones.
  Batch later;
  later.Entered("c", "alice", 3, 0, "k-alice");
  EXPECT_EQ(Summarize(later.events()).at("c").prequeued_delta, -1);
}

TEST(Delta, OnlyUserRejectionsAreKept) {
  Batch b;
  auto* r = b.Add("c").mutable_entry_rejected();
  r->set_user_id("alice");
  r->set_reason(pb::REJECT_CAMPAIGN_FULL);
  b.Add("c").mutable_entry_rejected()->set_reason(pb::REJECT_NOT_DRAINED);  // an admin command
  const CampaignDelta d = Summarize(b.events()).at("c");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].first, "alice");
  EXPECT_EQ(d.rejections[0].second, "REJECT_CAMPAIGN_FULL");
  EXPECT_EQ(d.rejected, 1);
  EXPECT_TRUE(d.entered.empty());
  EXPECT_TRUE(d.changed.empty());
}

TEST(Delta, FlagsTakeTheirLastValue) {
  Batch b;
  b.Add("c").mutable_admission_paused();
  EXPECT_EQ(Summarize(b.events()).at("c").paused, true);
  b.Add("c").mutable_admission_resumed();
  EXPECT_EQ(Summarize(b.events()).at("c").paused, false);
  EXPECT_FALSE(Summarize(b.events()).at("c").closed.has_value());
  b.Add("c").mutable_campaign_closed()->set_entries(3);
  b.Add("c").mutable_seed_revealed()->set_seed(std::string(32, '\x07'));
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.closed, true);
  EXPECT_EQ(d.seed, std::string(32, '\x07'));
  EXPECT_EQ(d.last_sequence, b.sequence());
}

TEST(Delta, ServingAndEntriesAreTheLatest) {
  Batch b;
  for (uint64_t p = 1; p <= 5; ++p) b.Entered("c", "u" + std::to_string(p), p);
  for (uint64_t p = 1; p <= 3; ++p) b.Add("c").mutable_entry_admitted()->set_position(p);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.entries, 5u);
  EXPECT_EQ(d.serving, 3u);
  // Rows come out ordered by position, whatever the order they came in.
  uint64_t want = 1;
  for (const auto& [pos, row] : d.entered) EXPECT_EQ(pos, want++);
}

// --- Issue 14: holds, confirmations, expiries, the at-close draw.

TEST(Delta, AHeldWinCarriesItsDeadline) {
  Batch b;
  b.Entered("c", "alice", 1, 10);
  b.Drawn("c", "alice", 1, pb::OUTCOME_WON, 0, 20);
  Batch held = b;
  held.Last().mutable_draw_resolved()->set_hold_until_ms(60020);
  const CampaignDelta d = Summarize(held.events()).at("c");
  const EntryRow& r = d.entered.at(1);
  EXPECT_EQ(r.outcome, "won");
  EXPECT_EQ(r.hold_until_ms, 60020u);
  EXPECT_TRUE(r.drawn);
  EXPECT_EQ(r.waitlist_rank, 0u);
  // Without a hold, nothing of the kind.
  EXPECT_EQ(Summarize(b.events()).at("c").entered.at(1).hold_until_ms, 0u);
}

TEST(Delta, ConfirmationOfAnEarlierWin) {
  Batch b;
  auto* c = b.Add("c", 77).mutable_entry_confirmed();
  c->set_user_id("alice");
  c->set_position(3);
  c->set_pass_id("c:3");
  const CampaignDelta d = Summarize(b.events()).at("c");
  ASSERT_EQ(d.changed.size(), 1u);
  const EntryRow& r = d.changed.at(3);
  EXPECT_EQ(r.outcome, "confirmed");
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.confirmed_at_ms, 77u);
  EXPECT_EQ(r.pass_id, "c:3");
  EXPECT_EQ(r.decided_at_ms, 77u);
  EXPECT_EQ(r.decided_sequence, 101u);
  EXPECT_FALSE(r.drawn);  // the draw value stays what an earlier batch wrote
  EXPECT_EQ(d.confirmed, 1);
  EXPECT_EQ(d.won, 0);
}

TEST(Delta, ExpiryGivesTheUnitBackAsItsOwnReason) {
  Batch b;
  auto* h = b.Add("c", 90000).mutable_hold_expired();
  h->set_user_id("bob");
  h->set_position(2);
  h->set_hold_until_ms(80000);
  b.Stock("c", 1, pb::STOCK_HOLD_EXPIRED, 1);
  const CampaignDelta d = Summarize(b.events()).at("c");
  const EntryRow& r = d.changed.at(2);
  EXPECT_EQ(r.outcome, "expired");
  EXPECT_EQ(r.hold_until_ms, 80000u);
  EXPECT_EQ(r.decided_at_ms, 90000u);
  EXPECT_EQ(d.expired, 1);
  EXPECT_EQ(d.restocked, 0);  // no restock
  ASSERT_EQ(d.stock.size(), 1u);
  EXPECT_EQ(d.stock[0].reason, "hold_expired");
  EXPECT_EQ(d.stock_left, 1u);
}

TEST(Delta, AtCloseDrawWaitlistsAndAPromotionWins) {
  Batch b;
  for (uint64_t p = 1; p <= 3; ++p) b.Entered("c", "u" + std::to_string(p), p, p);
  auto* closed = b.Add("c", 50).mutable_campaign_closed();
  closed->set_entries(3);
  closed->set_merkle_root(std::string(32, '\x01'));
  closed->set_merkle_leaves(3);
  closed->set_entropy_value("round 7: 00ff");
  b.Drawn("c", "u1", 1, pb::OUTCOME_WAITLISTED, 1, 50);
  b.Last().mutable_draw_resolved()->set_waitlist_rank(1);
  b.Drawn("c", "u2", 2, pb::OUTCOME_WON, 0, 50);
  b.Last().mutable_draw_resolved()->set_hold_until_ms(110050);
  b.Drawn("c", "u3", 3, pb::OUTCOME_LOST, 0, 50);
  CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.serving, 3u);  // no admissions: the draws move the serving counter
  EXPECT_EQ(d.waitlisted, 1);
  EXPECT_EQ(d.won, 1);
  EXPECT_EQ(d.entered.at(1).outcome, "waitlisted");
  EXPECT_EQ(d.entered.at(1).waitlist_rank, 1u);
  EXPECT_EQ(d.entered.at(2).hold_until_ms, 110050u);
  EXPECT_EQ(d.merkle_root, std::string(32, '\x01'));
  EXPECT_EQ(d.merkle_leaves, 3u);
  EXPECT_EQ(d.entropy_value, "round 7: 00ff");

  // u2 gives the unit back; the waitlist's head takes it.
  b.Cancelled("c", "u2", 2, 60);
  b.Stock("c", 1, pb::STOCK_CANCELLATION, 1);
  auto* pr = b.Add("c", 60).mutable_entry_promoted();
  pr->set_user_id("u1");
  pr->set_position(1);
  pr->set_waitlist_rank(1);
  pr->set_hold_until_ms(120060);
  pr->set_stock_left(0);
  d = Summarize(b.events()).at("c");
  const EntryRow& r = d.entered.at(1);
  EXPECT_EQ(r.outcome, "won");
  EXPECT_EQ(r.waitlist_rank, 1u);
  EXPECT_EQ(r.hold_until_ms, 120060u);
  EXPECT_EQ(r.promoted_at_ms, 60u);
  EXPECT_EQ(r.decided_at_ms, 60u);
  EXPECT_EQ(d.won, 2);  // a promotion is a win, as the engine counts it
  EXPECT_EQ(d.promoted, 1);
  EXPECT_EQ(d.waitlisted, 1);
  EXPECT_EQ(d.cancelled, 1);
  EXPECT_EQ(d.stock_left, 0u);
}

TEST(Delta, ACloseWithoutAReceiptSetsNone) {
  Batch b;
  b.Add("c").mutable_campaign_closed()->set_entries(3);
  const CampaignDelta d = Summarize(b.events()).at("c");
  EXPECT_EQ(d.closed, true);
  EXPECT_FALSE(d.merkle_root.has_value());
  EXPECT_FALSE(d.merkle_leaves.has_value());
  EXPECT_FALSE(d.entropy_value.has_value());
}

TEST(Delta, TheDrawValueOutlivesACancellationInTheSameBatch) {
  // Entered, drawn and cancelled in one batch, or the cancellation in a
  // later one: the draw value is the draw's either way.
  Batch b;
  b.Entered("c", "alice", 1);
  b.Drawn("c", "alice", 1, pb::OUTCOME_WON, 0);
  b.Cancelled("c", "alice", 1);
  const EntryRow& r = Summarize(b.events()).at("c").entered.at(1);
  EXPECT_TRUE(r.drawn);
  EXPECT_EQ(r.draw_value, 1000u);
}

}  // namespace
}  // namespace tl::proj
