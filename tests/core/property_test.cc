// Property: for many random command streams, every invariant holds after
// every command, folding the ledger alone rebuilds the identical state and
// digest, and deciding the same commands again gives the identical ledger.
// The streams include holds (confirmed, given back, expiring), at-close draws
// with and without committed entropy, and waitlist promotions; the streams
// come from the simulator's workload (ops/sim/workload.h).
#include <map>
#include <random>

#include "ops/sim/workload.h"
#include "tests/support/harness.h"

namespace tl::testing {
namespace {

TEST(Property, InvariantsReplayAndDeterminismOverRandomStreams) {
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
      pb::Command create = sim::RandomCreate(rng, id, now);
      h.Run(create);
    }
    int n_commands = 30 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n_commands; ++i) {
      h.Run(sim::RandomCommand(rng, now, ids, &h.state));
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
      ASSERT_EQ(r->item_waitlists, c->item_waitlists);
      ASSERT_EQ(r->item_of, c->item_of);
      ASSERT_EQ(r->quantity_of, c->quantity_of);
      ASSERT_EQ(r->choose_until, c->choose_until);
    }

    // Determinism: decide the same commands again from scratch.
    Harness again;
    for (const auto& cmd : h.commands) again.Run(cmd);
    ASSERT_EQ(again.encoded, h.encoded) << "stream " << stream;
  }
  // The streams did exercise the engine (not a vacuous pass).
  EXPECT_GT(total_events, static_cast<uint64_t>(kStreams) * 20);
  for (auto kind : {pb::Event::kEntryConfirmed, pb::Event::kHoldExpired, pb::Event::kEntryPromoted,
                    pb::Event::kCampaignClosed, pb::Event::kEntryCancelled, pb::Event::kItemChosen,
                    pb::Event::kChoiceExpired})
    EXPECT_GT(seen[kind], 100u) << "event kind " << kind << " was rarely produced (" << seen[kind]
                                << ")";
}

}  // namespace
}  // namespace tl::testing
