// Issue 14's drop, on the real embedded log and RocksDB state: 10,000 users,
// stock 100, drawn at close with committed entropy, holds of 60 s, and 30%
// of winners never paying. The shop confirms the others; holds expire on the
// engine's virtual time; every released unit goes to the waitlist head once.
// At the end exactly 100 units are confirmed, a restart replays to the same
// digest, and the audit finds nothing.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine/core/fold.h"
#include "engine/core/names.h"
#include "engine/log/record_frame.h"
#include "engine/runtime/node.h"
#include "ops/audit/audit.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

constexpr uint64_t kT0 = 1'767'225'600'000;
constexpr char kSecret[] = "holds-drop-secret-0123456789";
constexpr char kId[] = "drop";

NodeOptions Options(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = 1;
  o.config.seed_secret = kSecret;
  return o;
}

void Drain(Node& node) {
  Engine& engine = node.engine();
  engine.Start();
  uint64_t end = *node.log().commands()->EndOffset(0);
  ASSERT_TRUE(engine.WaitForCommands(0, end, absl::Seconds(120)).ok()) << engine.status();
  engine.Stop();
}

// Whether `user`'s shop ever confirms: 7 in 10, fixed per user.
bool Pays(const std::string& user) { return std::hash<std::string>{}(user) % 10 < 7; }

TEST(HoldsDrop, AtCloseTenThousandUsersThirtyPercentNeverPayEndsWithExactlyStockConfirmed) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok()) << node.status();
  uint64_t t = kT0;
  // Commands are appended in batches (one durable write each), at Drain.
  std::vector<LogRecord> pending;
  auto submit = [&](auto fill, uint64_t at) {
    pb::Command c;
    c.set_campaign_id(kId);
    c.set_time_ms(at);
    fill(c);
    pending.push_back(LogRecord{0, kId, c.SerializeAsString()});
  };
  auto Drain = [&](Node& n) {
    for (size_t at = 0; at < pending.size(); at += 1000) {
      std::vector<LogRecord> batch(
          pending.begin() + static_cast<long>(at),
          pending.begin() + static_cast<long>(std::min(at + 1000, pending.size())));
      ASSERT_TRUE(n.log().commands()->Append(0, std::move(batch)).ok());
    }
    pending.clear();
    testing::Drain(n);
  };
  submit(
      [](pb::Command& c) {
        auto* cc = c.mutable_create_campaign();
        cc->set_stock(100);
        cc->set_win_bps(10000);
        cc->set_hold_s(60);
        cc->set_draw(pb::DRAW_AT_CLOSE);
        cc->set_entropy_source("drand quicknet round 1234567");
      },
      t);
  for (int i = 0; i < 10000; ++i) {
    const std::string user = "user-" + std::to_string(i);
    submit([&](pb::Command& c) { c.mutable_request_entry()->set_user_id(user); }, ++t);
  }
  t += 1000;
  submit([](pb::Command& c) { c.mutable_close_campaign()->set_entropy_value("b8e1a6f0c2"); }, t);
  Drain(**node);

  // The shop's rounds: each live hold's user pays 10 s in (or never); a tick
  // 61 s on expires the rest, promoting the waitlist's head for each.
  std::set<std::string> confirmed_users;
  for (int round = 0; round < 200; ++round) {
    const CampaignState* c = (*node)->engine().partition(0).state().Find(kId);
    ASSERT_NE(c, nullptr);
    if (c->hold_until.empty()) break;
    for (const auto& [position, deadline] : c->hold_until) {
      const std::string& user = c->user_at(position);
      if (!Pays(user)) continue;
      submit(
          [&](pb::Command& cmd) {
            cmd.mutable_confirm_entry()->set_user_id(user);
            cmd.mutable_confirm_entry()->set_pass_id(PassId(kId, position));
          },
          t + 10'000);
      confirmed_users.insert(user);
    }
    t += 61'000;
    submit([](pb::Command& cmd) { cmd.mutable_tick(); }, t);
    Drain(**node);
  }
  submit([](pb::Command& cmd) { cmd.mutable_reveal_seed(); }, t);
  Drain(**node);
  const CampaignState* c = (*node)->engine().partition(0).state().Find(kId);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->snap.revealed());
  EXPECT_TRUE(c->hold_until.empty()) << "holds still live after the rounds";
  EXPECT_EQ(c->snap.confirmed(), 100u);
  EXPECT_EQ(confirmed_users.size(), 100u);
  EXPECT_EQ(c->snap.stock_left(), 0u);
  EXPECT_TRUE(CheckInvariants(*c).ok());

  // The ledger: every expiry paid for by exactly one promotion, in the same
  // answer, of the waitlist's head, and no entry promoted twice.
  std::vector<LogRecord> recs;
  ASSERT_TRUE((*node)->log().ledger()->Read(0, 0, 1 << 30, &recs).ok());
  std::map<uint64_t, int> expired_by_command, promoted_by_command;
  std::set<uint64_t> promoted_positions;
  uint64_t next_rank = 1, won_at_close = 0;
  for (const LogRecord& r : recs) {
    pb::Event e;
    ASSERT_TRUE(DecodeEvent(r, 0, &e).ok());
    if (e.has_draw_resolved()) won_at_close += e.draw_resolved().outcome() == pb::OUTCOME_WON;
    if (e.has_hold_expired()) expired_by_command[e.command_offset()]++;
    if (e.has_entry_promoted()) {
      promoted_by_command[e.command_offset()]++;
      EXPECT_EQ(e.entry_promoted().waitlist_rank(), next_rank++);
      EXPECT_TRUE(promoted_positions.insert(e.entry_promoted().position()).second);
    }
  }
  EXPECT_EQ(won_at_close, 100u);
  EXPECT_EQ(expired_by_command, promoted_by_command);
  EXPECT_EQ(c->snap.expired(), c->snap.promoted());
  EXPECT_GT(c->snap.expired(), 30u);  // a third of each round never pays
  const Hash digest = (*node)->engine().partition(0).state().digest;
  const std::vector<uint64_t> waitlist = c->waitlist;
  const std::vector<EntryStatus> status = c->status;
  node->reset();

  // A restart from the state store, and a refold from the ledger alone, agree.
  {
    auto again = Node::Open(Options(dir.path()));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->engine().partition(0).state().digest, digest);
    const CampaignState* r = (*again)->engine().partition(0).state().Find(kId);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->waitlist, waitlist);
    EXPECT_EQ(r->status, status);
    EXPECT_TRUE(CheckInvariants(*r).ok());
  }
  std::filesystem::remove_all(dir.Sub("state"));
  auto refolded = Node::Open(Options(dir.path()));
  ASSERT_TRUE(refolded.ok()) << refolded.status();
  EXPECT_EQ((*refolded)->engine().partition(0).state().digest, digest);

  // The audit: clean.
  AuditOptions ao;
  ao.config.seed_secret = kSecret;
  ao.have_secret = true;
  AuditReport report =
      Audit((*refolded)->log().ledger(), (*refolded)->log().commands(), ao, nullptr);
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.violations_total, 0u) << RenderAuditText(report);
}

}  // namespace
}  // namespace tl::testing
