// The waiting-room ticker: which campaigns need a Tick (the rule), what one
// round appends to the commands log, and that an engine's ticker moves its
// queues and stops with it.
#include "engine/runtime/ticker.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/log/decode.h"
#include "engine/runtime/node.h"
#include "tests/support/harness.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

TEST(TickerRule, OnlyMovingQueuesAndRandomQueuesDueToOpen) {
  Harness h;
  // Admitted at once (no rate): nothing to move.
  h.Create("at-once", 10, 10000);
  h.Enter("at-once", "u1");
  // A rate and people waiting: due.
  h.Create("moving", 10, 10000, /*rate=*/1);
  h.Enter("moving", "u1");
  h.Enter("moving", "u2");
  // A rate but nobody waiting: not due.
  h.Create("empty", 10, 10000, /*rate=*/1);
  // People waiting but admission paused: not due.
  h.Create("paused", 10, 10000, /*rate=*/1);
  h.Enter("paused", "u1");
  h.Simple("paused", pb::Command::kPauseAdmission);
  // A random queue opening later (its entries pre-queued): due from opens_at.
  h.Create("random", 10, 10000, /*rate=*/0, pb::QUEUEING_RANDOM, /*opens_at=*/kT0 + 1000);
  h.Enter("random", "u1");
  // A queue whose people were all admitted: no longer due.
  h.Create("drained", 10, 10000, /*rate=*/1000);
  h.Enter("drained", "u1");
  h.Tick("drained", kT0 + 1000);

  EXPECT_EQ(CampaignsDueForTick(h.state, kT0 + 999), std::vector<std::string>{"moving"});
  EXPECT_EQ(CampaignsDueForTick(h.state, kT0 + 1000),
            (std::vector<std::string>{"moving", "random"}));  // id order
  // Once the random queue has opened it needs no tick (no rate), and the
  // moving one none once it is empty.
  h.Tick("random", kT0 + 1000);
  h.Tick("moving", kT0 + 5000);
  EXPECT_EQ(h.state.Find("moving")->waiting(), 0u);
  EXPECT_TRUE(CampaignsDueForTick(h.state, kT0 + 5000).empty());
  // Resuming the paused queue makes it due again.
  h.Simple("paused", pb::Command::kResumeAdmission);
  EXPECT_EQ(CampaignsDueForTick(h.state, kT0 + 5000), std::vector<std::string>{"paused"});
}

// A held win is due for a tick once its deadline passes, closed campaign or
// not: that tick expires it.
TEST(TickerRule, ACampaignIsDueWhenAHoldDeadlinePasses) {
  Harness h;
  h.CreateHeld("held", 1, 10000, /*hold_s=*/30);
  h.Enter("held", "u1", kT0);
  h.Close("held", "", kT0 + 1);
  EXPECT_TRUE(CampaignsDueForTick(h.state, kT0 + 29'999).empty());
  EXPECT_EQ(CampaignsDueForTick(h.state, kT0 + 30'000), std::vector<std::string>{"held"});
  auto es = h.Tick("held", kT0 + 30'000);
  EXPECT_EQ(Count(es, pb::Event::kHoldExpired), 1);
  EXPECT_TRUE(CampaignsDueForTick(h.state, kT0 + 60'000).empty());
}

NodeOptions Options(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 2;
  o.config.seed_secret = "ticker-test-secret-0123456789";
  return o;
}

pb::Command Create(const std::string& id, uint32_t rate) {
  pb::Command c = Harness::Cmd(id, kT0);
  c.mutable_create_campaign()->set_stock(100);
  c.mutable_create_campaign()->set_win_bps(10000);
  c.mutable_create_campaign()->set_admission_rate_per_s(rate);
  return c;
}

pb::Command Entry(const std::string& id, const std::string& user) {
  pb::Command c = Harness::Cmd(id, kT0);
  c.mutable_request_entry()->set_user_id(user);
  return c;
}

void Decide(Node& node) {
  for (int p = 0; p < node.engine().partitions(); ++p) {
    uint64_t end = *node.log().commands()->EndOffset(p);
    ASSERT_TRUE(node.engine().WaitForCommands(p, end, absl::Seconds(60)).ok())
        << node.engine().status();
  }
}

// One round appends one Tick per due campaign, in that campaign's partition,
// at the round's time; the engine decides them like any command.
TEST(Ticker, TickOnceAppendsATickPerDueCampaignInItsPartition) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok()) << node.status();
  Node& n = **node;
  // Two queues on different partitions, and one that needs no tick.
  std::vector<std::string> queues;
  for (int i = 0; queues.size() < 2; ++i) {
    std::string id = "q" + std::to_string(i);
    if (queues.empty() || PartitionFor(id, 2) != PartitionFor(queues[0], 2)) queues.push_back(id);
  }
  for (const std::string& id : queues) {
    ASSERT_TRUE(n.Submit(Create(id, 1)).ok());
    for (int u = 0; u < 3; ++u) ASSERT_TRUE(n.Submit(Entry(id, "u" + std::to_string(u))).ok());
  }
  ASSERT_TRUE(n.Submit(Create("at-once", 0)).ok());
  ASSERT_TRUE(n.Submit(Entry("at-once", "u0")).ok());
  n.engine().Start();
  Decide(n);

  uint64_t reported = 0;
  TickerOptions to;
  to.on_appended = [&](uint64_t k) { reported += k; };
  Ticker ticker(
      n.log().commands(), n.engine().owned(),
      [&](int p, const std::function<void(const EngineState&, uint64_t)>& fn) {
        n.engine().WithState(p, fn);
      },
      to);
  std::vector<uint64_t> before;
  for (int p = 0; p < 2; ++p) before.push_back(*n.log().commands()->EndOffset(p));
  const uint64_t at = kT0 + 1000;  // one admission each (1/s)
  absl::StatusOr<uint64_t> appended = ticker.TickOnce(at);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(*appended, 2u);
  EXPECT_EQ(reported, 2u);
  for (const std::string& id : queues) {
    const int p = PartitionFor(id, 2);
    std::vector<LogRecord> recs;
    ASSERT_TRUE(n.log().commands()->Read(p, before[p], 10, &recs).ok());
    ASSERT_EQ(recs.size(), 1u) << "partition " << p;
    pb::Command c;
    ASSERT_TRUE(DecodeCommand(recs[0], p, &c).ok());
    EXPECT_EQ(c.campaign_id(), id);
    EXPECT_TRUE(c.has_tick());
    EXPECT_EQ(c.time_ms(), at);
  }
  Decide(n);
  for (const std::string& id : queues) {
    n.engine().WithState(PartitionFor(id, 2), [&](const EngineState& s, uint64_t) {
      EXPECT_EQ(s.Find(id)->snap.serving(), 1u) << id;
    });
  }
  // Ten seconds later everyone is admitted; then nothing is due.
  ASSERT_EQ(*ticker.TickOnce(at + 10000), 2u);
  Decide(n);
  EXPECT_EQ(*ticker.TickOnce(at + 20000), 0u);
  n.engine().Stop();
}

// The engine's own ticker (Engine::set_ticker) moves its queues with the wall
// clock, and appends nothing once the engine has stopped.
TEST(Ticker, EngineTickerMovesQueuesAndStopsWithTheEngine) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok()) << node.status();
  Node& n = **node;
  ASSERT_TRUE(n.Submit(Create("line", 1000)).ok());
  for (int u = 0; u < 20; ++u) ASSERT_TRUE(n.Submit(Entry("line", "u" + std::to_string(u))).ok());
  std::atomic<uint64_t> ticks{0};
  TickerOptions to;
  to.tick_ms = 10;
  to.on_appended = [&](uint64_t k) { ticks += k; };
  n.engine().set_ticker(to);
  n.engine().Start();
  const int p = PartitionFor("line", 2);
  uint64_t serving = 0;
  for (int i = 0; i < 500 && serving < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n.engine().WithState(
        p, [&](const EngineState& s, uint64_t) { serving = s.Find("line")->snap.serving(); });
  }
  EXPECT_EQ(serving, 20u);
  EXPECT_GT(ticks.load(), 0u);
  n.engine().Stop();
  // A queue to move, but the engine (and its ticker) stopped.
  ASSERT_TRUE(n.Submit(Entry("line", "late")).ok());
  const uint64_t end = *n.log().commands()->EndOffset(p);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(*n.log().commands()->EndOffset(p), end);
}

}  // namespace
}  // namespace tl::testing
