// Property: for many random command streams, every invariant holds after
// every command, folding the ledger alone rebuilds the identical state and
// digest, and deciding the same commands again gives the identical ledger.
#include <random>

#include "tests/support/harness.h"

namespace tl::testing {
namespace {

pb::Command RandomCommand(std::mt19937_64& rng, uint64_t& now,
                          const std::vector<std::string>& campaigns) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  now += pick(400);
  const std::string& id = campaigns[pick(campaigns.size())];
  pb::Command c = Harness::Cmd(pick(50) == 0 ? "unknown" : id, now);
  std::string user = "u" + std::to_string(pick(24));
  if (pick(40) == 0) user = "bad\nuser";
  int r = static_cast<int>(pick(100));
  if (r < 50) {
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
    c.mutable_close_campaign();
  } else {
    c.mutable_reveal_seed();
  }
  return c;
}

TEST(Property, InvariantsReplayAndDeterminismOverRandomStreams) {
  const uint32_t kBps[] = {0, 1, 500, 5000, 9999, 10000};
  const uint32_t kRates[] = {0, 0, 1, 5, 20};
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
      h.Create(id, rng() % 6, kBps[rng() % 6], kRates[rng() % 5],
               random ? pb::QUEUEING_RANDOM : pb::QUEUEING_FIFO, random ? kT0 + rng() % 4000 : 0,
               rng() % 4 == 0 ? 10 : 0, now);
    }
    int n_commands = 30 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n_commands; ++i) {
      h.Run(RandomCommand(rng, now, ids));
      for (const auto& [id, c] : h.state.campaigns) {
        absl::Status st = CheckInvariants(*c);
        ASSERT_TRUE(st.ok()) << "stream " << stream << " command " << i << ": " << st;
      }
      if (::testing::Test::HasFailure()) return;
    }
    total_events += h.events.size();

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
    }

    // Determinism: decide the same commands again from scratch.
    Harness again;
    for (const auto& cmd : h.commands) again.Run(cmd);
    ASSERT_EQ(again.encoded, h.encoded) << "stream " << stream;
  }
  // The streams did exercise the engine (not a vacuous pass).
  EXPECT_GT(total_events, static_cast<uint64_t>(kStreams) * 20);
}

}  // namespace
}  // namespace tl::testing
