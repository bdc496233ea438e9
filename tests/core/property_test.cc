// Property: for many random command streams, every invariant holds after
// every command, folding the ledger alone rebuilds the identical state and
// digest, and deciding the same commands again gives the identical ledger.
// The streams include holds (confirmed, given back, expiring), at-close draws
// with and without committed entropy, and waitlist promotions.
#include <map>
#include <random>

#include "engine/core/names.h"
#include "tests/support/harness.h"

namespace tl::testing {
namespace {

pb::Command RandomCommand(std::mt19937_64& rng, uint64_t& now,
                          const std::vector<std::string>& campaigns, const Harness& h) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  now += pick(400);
  const std::string& id = campaigns[pick(campaigns.size())];
  pb::Command c = Harness::Cmd(pick(50) == 0 ? "unknown" : id, now);
  std::string user = "u" + std::to_string(pick(24));
  if (pick(40) == 0) user = "bad\nuser";
  int r = static_cast<int>(pick(110));
  if (r >= 100) {  // a confirmation, naming the right pass nine times in ten
    const CampaignState* cs = h.state.Find(id);
    uint64_t pos = 1;
    if (cs != nullptr) {
      if (auto it = cs->position_of.find(user); it != cs->position_of.end()) pos = it->second;
    }
    c.mutable_confirm_entry()->set_user_id(user);
    c.mutable_confirm_entry()->set_pass_id(PassId(id, pick(10) == 0 ? pos + 1 : pos));
  } else if (r < 50) {
    c.mutable_request_entry()->set_user_id(user);
  } else if (r < 75) {
    c.mutable_tick();
  } else if (r < 83) {
    c.mutable_cancel_entry()->set_user_id(user);
  } else if (r < 87) {
    c.mutable_restock()->set_units(pick(3));
  } else if (r < 91) {
    c.mutable_pause_admission();
  } else if (r < 95) {
    c.mutable_resume_admission();
  } else if (r < 98) {
    // The committed entropy value, mostly; sometimes none or a stray one.
    const CampaignState* cs = h.state.Find(id);
    const bool committed = cs != nullptr && !cs->snap.config().entropy_source().empty();
    if (committed ? pick(5) != 0 : pick(10) == 0)
      c.mutable_close_campaign()->set_entropy_value("round-" + std::to_string(pick(1000)));
    else
      c.mutable_close_campaign();
  } else {
    c.mutable_reveal_seed();
  }
  return c;
}

TEST(Property, InvariantsReplayAndDeterminismOverRandomStreams) {
  const uint32_t kBps[] = {0, 1, 500, 5000, 9999, 10000};
  const uint32_t kRates[] = {0, 0, 1, 5, 20};
  const uint32_t kHolds[] = {0, 0, 1, 3};  // seconds; a stream spans ~10 s
  std::map<pb::Event::BodyCase, uint64_t> seen;
  std::mt19937_64 rng(20261125);
  const int kStreams = 10000;
  uint64_t total_events = 0;
  for (int stream = 0; stream < kStreams; ++stream) {
    Harness h;
    uint64_t now = kT0;
    std::vector<std::string> ids;
    int n_campaigns = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n_campaigns; ++i) {
      std::string id = "c" + std::to_string(i);
      ids.push_back(id);
      bool random = rng() % 3 == 0;
      pb::Command create = Harness::Cmd(id, now);
      auto* cc = create.mutable_create_campaign();
      cc->set_stock(rng() % 6);
      cc->set_win_bps(kBps[rng() % 6]);
      cc->set_queueing(random ? pb::QUEUEING_RANDOM : pb::QUEUEING_FIFO);
      cc->set_opens_at_ms(random ? kT0 + rng() % 4000 : 0);
      cc->set_max_entries(rng() % 4 == 0 ? 10 : 0);
      cc->set_hold_s(kHolds[rng() % 4]);
      if (rng() % 3 == 0) {
        cc->set_draw(pb::DRAW_AT_CLOSE);
        if (rng() % 2 == 0) cc->set_entropy_source("drand round " + std::to_string(rng() % 100));
      } else {
        cc->set_admission_rate_per_s(kRates[rng() % 5]);
      }
      h.Run(create);
    }
    int n_commands = 30 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n_commands; ++i) {
      h.Run(RandomCommand(rng, now, ids, h));
      for (const auto& [id, c] : h.state.campaigns) {
        absl::Status st = CheckInvariants(*c);
        ASSERT_TRUE(st.ok()) << "stream " << stream << " command " << i << ": " << st;
      }
      if (::testing::Test::HasFailure()) return;
    }
    total_events += h.events.size();
    for (const pb::Event& e : h.events) seen[e.body_case()]++;

    // Replay: fold the ledger alone.
    EngineState replayed;
    for (size_t i = 0; i < h.events.size(); ++i) {
      pb::Event e;
      ASSERT_TRUE(e.ParseFromString(h.encoded[i]));
      ASSERT_TRUE(Fold(&replayed, h.config, e, h.encoded[i]).ok()) << "stream " << stream;
    }
    ASSERT_EQ(replayed.digest, h.state.digest) << "stream " << stream;
    for (const auto& [id, c] : h.state.campaigns) {
      const CampaignState* r = replayed.Find(id);
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(r->snap.SerializeAsString(), c->snap.SerializeAsString()) << "stream " << stream;
      ASSERT_EQ(r->status, c->status);
      ASSERT_EQ(r->rejected_users, c->rejected_users);
      ASSERT_EQ(r->entered_ms, c->entered_ms);
      ASSERT_EQ(r->hold_until, c->hold_until);
      ASSERT_EQ(r->waitlist, c->waitlist);
    }

    // Determinism: decide the same commands again from scratch.
    Harness again;
    for (const auto& cmd : h.commands) again.Run(cmd);
    ASSERT_EQ(again.encoded, h.encoded) << "stream " << stream;
  }
  // The streams did exercise the engine (not a vacuous pass).
  EXPECT_GT(total_events, static_cast<uint64_t>(kStreams) * 20);
  for (auto kind : {pb::Event::kEntryConfirmed, pb::Event::kHoldExpired, pb::Event::kEntryPromoted,
                    pb::Event::kCampaignClosed, pb::Event::kEntryCancelled})
    EXPECT_GT(seen[kind], 100u) << "event kind " << kind << " was rarely produced";
}

}  // namespace
}  // namespace tl::testing
