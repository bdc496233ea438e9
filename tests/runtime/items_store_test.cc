// Items in the state store: a restart mid-drop (admitted users choosing,
// per-item stock, quantities, per-item waitlists, a pre-queue's asks) loads
// the very state the fold had, and the drop goes on to the same digest as a
// run that never stopped.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/core/fold.h"
#include "engine/runtime/node.h"
#include "tests/support/harness.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

NodeOptions Options(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 1;
  o.config.seed_secret = "items-store-secret-0123456789";
  return o;
}

void Drain(Node& node) {
  node.engine().Start();
  uint64_t end = *node.log().commands()->EndOffset(0);
  ASSERT_TRUE(node.engine().WaitForCommands(0, end, absl::Seconds(60)).ok())
      << node.engine().status();
  node.engine().Stop();
}

pb::Command Create(const std::string& id, pb::Choose choose, pb::Draw draw, bool random) {
  pb::Command c = Harness::Cmd(id, kT0);
  auto* cc = c.mutable_create_campaign();
  cc->set_win_bps(10000);
  cc->set_per_user_max(3);
  cc->set_choose(choose);
  cc->set_draw(draw);
  cc->set_hold_s(60);
  if (choose == pb::CHOOSE_ON_ADMISSION) cc->set_choose_s(30);
  if (random) {
    cc->set_queueing(pb::QUEUEING_RANDOM);
    cc->set_opens_at_ms(kT0 + 100'000);
  }
  for (int k = 0; k < 3; ++k) {
    pb::Item* item = cc->add_items();
    item->set_id("slot-" + std::to_string(k));
    item->set_stock(4);
  }
  return c;
}

// The first half of the drop: entries, choices, a close.
std::vector<pb::Command> FirstHalf() {
  std::vector<pb::Command> out;
  out.push_back(Create("pick", pb::CHOOSE_ON_ADMISSION, pb::DRAW_INSTANT, false));
  out.push_back(Create("lot", pb::CHOOSE_AT_ENTRY, pb::DRAW_AT_CLOSE, false));
  out.push_back(Create("rnd", pb::CHOOSE_AT_ENTRY, pb::DRAW_INSTANT, true));
  for (int i = 0; i < 12; ++i) {
    const std::string u = "u" + std::to_string(i);
    pb::Command e = Harness::Cmd("pick", kT0 + i);
    e.mutable_request_entry()->set_user_id(u);
    out.push_back(e);
    for (const char* id : {"lot", "rnd"}) {
      pb::Command a = Harness::Cmd(id, kT0 + i);
      a.mutable_request_entry()->set_user_id(u);
      a.mutable_request_entry()->set_item_id("slot-" + std::to_string(i % 3));
      a.mutable_request_entry()->set_quantity(1 + i % 3);
      out.push_back(a);
    }
  }
  for (int i = 0; i < 3; ++i) {  // three admitted users choose; the rest are choosing
    pb::Command c = Harness::Cmd("pick", kT0 + 1000 + i);
    c.mutable_choose_item()->set_user_id("u" + std::to_string(i));
    c.mutable_choose_item()->set_item_id("slot-" + std::to_string(i));
    c.mutable_choose_item()->set_quantity(2);
    out.push_back(c);
  }
  pb::Command close = Harness::Cmd("lot", kT0 + 2000);
  close.mutable_close_campaign();
  out.push_back(close);
  return out;
}

// The second half: more choices, expiries, give-backs and promotions.
std::vector<pb::Command> SecondHalf() {
  std::vector<pb::Command> out;
  for (int i = 3; i < 6; ++i) {
    pb::Command c = Harness::Cmd("pick", kT0 + 3000 + i);
    c.mutable_choose_item()->set_user_id("u" + std::to_string(i));
    c.mutable_choose_item()->set_item_id("slot-1");
    c.mutable_choose_item()->set_quantity(1);
    out.push_back(c);
  }
  for (const char* id : {"pick", "lot", "rnd"}) {
    pb::Command t = Harness::Cmd(id, kT0 + 200'000);  // past every deadline; rnd opens
    t.mutable_tick();
    out.push_back(t);
  }
  return out;
}

void Append(Node& node, const std::vector<pb::Command>& cmds) {
  for (const pb::Command& c : cmds) ASSERT_TRUE(node.Submit(c).ok());
}

TEST(ItemsStore, ARestartMidDropLoadsTheFoldsStateAndEndsAtTheSameDigest) {
  TempDir dir;
  Hash straight{};
  {
    auto node = Node::Open(Options(dir.Sub("straight")));
    ASSERT_TRUE(node.ok()) << node.status();
    Append(**node, FirstHalf());
    Append(**node, SecondHalf());
    Drain(**node);
    straight = (*node)->engine().partition(0).state().digest;
    const CampaignState* pick = (*node)->engine().partition(0).state().Find("pick");
    ASSERT_NE(pick, nullptr);
    EXPECT_GT(pick->snap.chosen(), 0u);
    EXPECT_GT(pick->snap.choices_expired(), 0u);
    const CampaignState* lot = (*node)->engine().partition(0).state().Find("lot");
    EXPECT_GT(lot->snap.promoted() + lot->snap.waitlisted(), 0u);
  }
  {
    auto node = Node::Open(Options(dir.Sub("restarted")));
    ASSERT_TRUE(node.ok()) << node.status();
    Append(**node, FirstHalf());
    Drain(**node);
  }
  auto node = Node::Open(Options(dir.Sub("restarted")));  // loads the state store
  ASSERT_TRUE(node.ok()) << node.status();
  // What was loaded is what a refold of the ledger gives.
  {
    auto refold_dir = dir.Sub("refold");
    std::filesystem::copy(dir.Sub("restarted"), refold_dir,
                          std::filesystem::copy_options::recursive);
    std::filesystem::remove_all(refold_dir + "/state");
    auto refold = Node::Open(Options(refold_dir));
    ASSERT_TRUE(refold.ok()) << refold.status();
    for (const char* id : {"pick", "lot", "rnd"}) {
      const CampaignState* a = (*node)->engine().partition(0).state().Find(id);
      const CampaignState* b = (*refold)->engine().partition(0).state().Find(id);
      ASSERT_NE(a, nullptr);
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(a->snap.SerializeAsString(), b->snap.SerializeAsString()) << id;
      EXPECT_EQ(a->status, b->status) << id;
      EXPECT_EQ(a->item_of, b->item_of) << id;
      EXPECT_EQ(a->quantity_of, b->quantity_of) << id;
      EXPECT_EQ(a->choose_until, b->choose_until) << id;
      EXPECT_EQ(a->hold_until, b->hold_until) << id;
      EXPECT_EQ(a->item_waitlists, b->item_waitlists) << id;
      EXPECT_EQ(a->prequeue_asks, b->prequeue_asks) << id;
      EXPECT_TRUE(CheckInvariants(*a).ok()) << id;
    }
  }
  Append(**node, SecondHalf());
  Drain(**node);
  EXPECT_EQ((*node)->engine().partition(0).state().digest, straight);
}

}  // namespace
}  // namespace tl::testing
