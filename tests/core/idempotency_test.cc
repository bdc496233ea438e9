// Idempotency-Keys in the engine (engine/core/idempotency.h): a keyed
// command is applied once; its repeats cause no event; the key reused for
// another request is refused; the table is built by folding the ledger alone,
// so a replay rebuilds it and decides the same; its bounds forget the oldest.
#include "engine/core/idempotency.h"

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace tl::testing {
namespace {

pb::Command Keyed(pb::Command c, const std::string& actor, const std::string& key,
                  const std::string& hash) {
  c.set_actor(actor);
  c.set_idempotency_key(key);
  c.set_request_hash(hash);
  return c;
}

pb::Command Restock(const std::string& id, uint64_t units, uint64_t t) {
  pb::Command c = Harness::Cmd(id, t);
  c.mutable_restock()->set_units(units);
  return c;
}

TEST(EngineIdempotency, AKeyedCommandIsAppliedOnceAndItsRepeatsCauseNoEvent) {
  Harness h;
  h.Create("c", 10, 10000);
  const pb::Command restock = Keyed(Restock("c", 5, kT0 + 1), "ops", "k1", "hash-a");
  std::vector<pb::Event> first = h.Run(restock);
  ASSERT_EQ(Count(first, pb::Event::kStockChanged), 1);
  ASSERT_TRUE(first[0].has_idempotency());  // the answer carries the key
  EXPECT_EQ(first[0].idempotency().key(), "k1");
  EXPECT_EQ(first[0].idempotency().actor(), "ops");
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(h.Run(restock).empty()) << "repeat " << i;
  EXPECT_EQ(h.C("c").snap.restocked(), 5u);
  EXPECT_EQ(h.C("c").snap.stock_left(), 15u);
  const IdempotencyTable::Entry* e = h.state.idempotency.Find("ops", "c", "k1", kT0 + 2);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->command_offset, 1u);  // the original command answers the repeats
}

TEST(EngineIdempotency, TheKeyWithAnotherRequestIsRefusedAndTheOriginalStays) {
  Harness h;
  h.Create("c", 10, 10000);
  h.Run(Keyed(Restock("c", 5, kT0 + 1), "ops", "k1", "hash-a"));
  std::vector<pb::Event> other = h.Run(Keyed(Restock("c", 7, kT0 + 2), "ops", "k1", "hash-b"));
  EXPECT_EQ(RejectOf(other), pb::REJECT_IDEMPOTENCY_MISMATCH);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_FALSE(other[0].has_idempotency());  // a refusal is not remembered
  EXPECT_EQ(h.C("c").snap.restocked(), 5u);
  EXPECT_TRUE(h.Run(Keyed(Restock("c", 5, kT0 + 3), "ops", "k1", "hash-a")).empty());
}

TEST(EngineIdempotency, KeysAreScopedByActorAndCampaign) {
  Harness h;
  h.Create("c", 10, 10000);
  h.Create("d", 10, 10000);
  h.Run(Keyed(Restock("c", 1, kT0 + 1), "ops", "k", "h"));
  h.Run(Keyed(Restock("c", 1, kT0 + 2), "other-admin", "k", "h"));  // another actor
  h.Run(Keyed(Restock("d", 1, kT0 + 3), "ops", "k", "h"));          // another campaign
  EXPECT_EQ(h.C("c").snap.restocked(), 2u);
  EXPECT_EQ(h.C("d").snap.restocked(), 1u);
}

TEST(EngineIdempotency, AnEntryRepeatedWithItsKeyIsNotADuplicateRejection) {
  Harness h;
  h.Create("c", 10, 10000);
  pb::Command enter = Harness::Cmd("c", kT0 + 1);
  enter.mutable_request_entry()->set_user_id("alice");
  enter = Keyed(enter, "alice", "e1", "h");
  ASSERT_EQ(Count(h.Run(enter), pb::Event::kQueueEntered), 1);
  EXPECT_TRUE(h.Run(enter).empty());  // not REJECT_DUPLICATE: the same request, answered
}

TEST(EngineIdempotency, MalformedKeysAreRejectedNamingWhatIsWrong) {
  Harness h;
  h.Create("c", 10, 10000);
  std::vector<pb::Event> r =
      h.Run(Keyed(Restock("c", 1, kT0 + 1), "ops", std::string(65, 'k'), "h"));
  EXPECT_EQ(RejectOf(r), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_NE(r[0].entry_rejected().detail().find("idempotency"), std::string::npos);
  r = h.Run(Keyed(Restock("c", 1, kT0 + 2), "", "k", "h"));  // no actor
  EXPECT_EQ(RejectOf(r), pb::REJECT_INVALID_ARGUMENT);
  EXPECT_EQ(h.C("c").snap.restocked(), 0u);
}

TEST(EngineIdempotency, AKeyIsForgottenAfterItsAgeByCommandTime) {
  Harness h;
  h.Create("c", 10, 10000);
  const uint64_t t = kT0 + 1;
  h.Run(Keyed(Restock("c", 1, t), "ops", "k", "h"));
  EXPECT_TRUE(h.Run(Keyed(Restock("c", 1, t + IdempotencyTable::kAgeMs), "ops", "k", "h")).empty());
  std::vector<pb::Event> later =
      h.Run(Keyed(Restock("c", 1, t + IdempotencyTable::kAgeMs + 1), "ops", "k", "h"));
  EXPECT_EQ(Count(later, pb::Event::kStockChanged), 1);  // a new key again
  EXPECT_EQ(h.C("c").snap.restocked(), 2u);
}

TEST(EngineIdempotency, AnActorKeepsAtMostItsBoundOldestForgottenFirst) {
  IdempotencyTable t;
  for (size_t i = 0; i <= IdempotencyTable::kPerActorMax; ++i)
    t.Remember({"u", "c", "k" + std::to_string(i), "h", i, kT0});
  t.Remember({"v", "c", "k0", "h", 999, kT0});
  EXPECT_EQ(t.size(), IdempotencyTable::kPerActorMax + 1);
  EXPECT_EQ(t.Find("u", "c", "k0", kT0), nullptr);  // u's oldest went
  EXPECT_NE(t.Find("u", "c", "k1", kT0), nullptr);
  EXPECT_NE(t.Find("v", "c", "k0", kT0), nullptr);  // v is untouched by u's bound
}

TEST(EngineIdempotency, TheTableIsRebuiltByFoldingTheLedgerAlone) {
  Harness h;
  h.Create("c", 10, 10000);
  h.Run(Keyed(Restock("c", 2, kT0 + 1), "ops", "k1", "h1"));
  h.Run(Keyed(Restock("c", 3, kT0 + 2), "ops", "k2", "h2"));
  EngineState replayed;
  for (size_t i = 0; i < h.events.size(); ++i)
    ASSERT_TRUE(Fold(&replayed, h.config, h.events[i], h.encoded[i]).ok());
  EXPECT_EQ(replayed.digest, h.state.digest);
  ASSERT_EQ(replayed.idempotency.size(), 2u);
  const IdempotencyTable::Entry* e = replayed.idempotency.Find("ops", "c", "k2", kT0 + 3);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->request_hash, "h2");
  EXPECT_EQ(e->command_offset, 2u);
}

TEST(EngineIdempotency, RestoredEntriesKeepTheirAgeOrder) {
  IdempotencyTable t;
  t.Restore(7, {"u", "c", "late", "h", 2, kT0});
  t.Restore(3, {"u", "c", "early", "h", 1, kT0});
  EXPECT_TRUE(t.changes().added.empty());  // restoring is not a change to store
  for (size_t i = 0; i + 1 < IdempotencyTable::kPerActorMax; ++i)
    t.Remember({"u", "c", "n" + std::to_string(i), "h", 10 + i, kT0});
  EXPECT_EQ(t.Find("u", "c", "early", kT0), nullptr);  // serial 3 was u's oldest
  EXPECT_NE(t.Find("u", "c", "late", kT0), nullptr);
  EXPECT_GT(t.entries().rbegin()->first, 7u);  // new serials follow the restored ones
}

// kMax bounds the keys of a partition (every actor within its own
// kPerActorMax): one more forgets the partition's oldest key first.
TEST(EngineIdempotency, APartitionKeepsAtMostItsBoundOldestForgottenFirst) {
  IdempotencyTable t;
  const size_t actors = IdempotencyTable::kMax / IdempotencyTable::kPerActorMax + 1;
  uint64_t n = 0;
  for (size_t a = 0; a < actors && n < IdempotencyTable::kMax; ++a) {
    for (size_t k = 0; k < IdempotencyTable::kPerActorMax && n < IdempotencyTable::kMax; ++k, ++n)
      t.Remember({std::to_string(a), "c", std::to_string(k), "h", n, kT0});
  }
  ASSERT_EQ(t.size(), IdempotencyTable::kMax);
  EXPECT_NE(t.Find("0", "c", "0", kT0), nullptr);
  t.Remember({"new", "c", "k", "h", n, kT0});
  EXPECT_EQ(t.size(), IdempotencyTable::kMax);
  EXPECT_EQ(t.Find("0", "c", "0", kT0), nullptr);  // the oldest went
  EXPECT_NE(t.Find("0", "c", "1", kT0), nullptr);
  EXPECT_NE(t.Find("new", "c", "k", kT0), nullptr);
}
}  // namespace
}  // namespace tl::testing
