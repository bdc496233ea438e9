// The deterministic simulator (ops/sim/simulator.h) as a test: many seeds of
// the whole node under faults must pass every check; a seed replays exactly;
// and each planted bug is found within a small seed budget, by the check
// that should find it.
//
// TL_SIM_SEEDS sets the number of seeds (default 1000; the sanitizer build
// runs fewer), TL_SIM_FIRST_SEED the first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <string>

#include "ops/sim/simulator.h"

namespace tl::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

TEST(Simulator, EverySeedOfTheWholeNodeUnderFaultsPassesEveryCheck) {
  const uint64_t first = EnvOr("TL_SIM_FIRST_SEED", 1), seeds = EnvOr("TL_SIM_SEEDS", 1000);
  SimStats total;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    SimOptions o{.seed = seed, .faults = true};
    SimResult r = Simulate(o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure << "\n  replay: " << ReplayCommand(o);
    total.Add(r.stats);
  }
  // Not a vacuous pass: every kind of fault struck, and the drops did work.
  EXPECT_GT(total.ledger_events, seeds * 100);
  EXPECT_GT(total.acknowledged, seeds * 100);
  EXPECT_GT(total.retries, seeds);
  EXPECT_GT(total.keyed, seeds * 10);
  for (auto [name, n] : {std::pair{"engine crashes", total.engine_crashes},
                         {"torn appends", total.torn_appends},
                         {"state writes lost", total.state_writes_lost},
                         {"takeovers", total.takeovers},
                         {"fenced appends", total.fenced},
                         {"zombie appends", total.zombie_appends},
                         {"appends refused", total.appends_refused},
                         {"appends timed out", total.appends_timed_out},
                         {"appends doubled", total.appends_doubled},
                         {"reads failed", total.reads_failed},
                         {"state store outages", total.store_outages},
                         {"projector restarts", total.projector_crashes},
                         {"read-model store emptied", total.sink_emptied},
                         {"read-model outages", total.sink_outages},
                         {"replies lost", total.sink_replies_lost},
                         {"api replica restarts", total.follower_restarts},
                         {"requests never retried", total.requests_dropped}})
    EXPECT_GT(n, seeds / 20) << name << " too rare to mean much";
}

TEST(Simulator, ASeedReplaysExactly) {
  for (uint64_t seed : {7, 99, 2026}) {
    SimResult a = Simulate({.seed = seed, .faults = true});
    SimResult b = Simulate({.seed = seed, .faults = true});
    ASSERT_TRUE(a.ok && b.ok) << a.failure << b.failure;
    EXPECT_EQ(a.fingerprint, b.fingerprint) << "seed " << seed;
    EXPECT_EQ(a.stats.steps, b.stats.steps);
    EXPECT_EQ(a.stats.engine_crashes, b.stats.engine_crashes);
    EXPECT_EQ(a.stats.acknowledged, b.stats.acknowledged);
    // And another seed is another run.
    SimResult c = Simulate({.seed = seed + 1, .faults = true});
    EXPECT_NE(a.fingerprint, c.fingerprint);
  }
}

TEST(Simulator, WithoutFaultsEverySeedPassesToo) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SimOptions o{.seed = seed, .faults = false};
    SimResult r = Simulate(o);
    ASSERT_TRUE(r.ok) << r.failure << "\n  replay: " << ReplayCommand(o);
    EXPECT_EQ(r.stats.engine_crashes, 0u);
    EXPECT_EQ(r.stats.retries, 0u);
  }
}

// Each planted bug, one at a time: the simulator must fail a seed within the
// budget, and say what it saw.
struct Planted {
  PlantedBug bug;
  const char* finds;  // a word of the failure the bug must cause
};

void PrintTo(const Planted& p, std::ostream* os) { *os << PlantedBugName(p.bug); }

class PlantedBugTest : public ::testing::TestWithParam<Planted> {
 protected:
  void TearDown() override { planted_bug = PlantedBug::kNone; }
};

TEST_P(PlantedBugTest, IsFoundWithinTheSeedBudget) {
  constexpr uint64_t kBudget = 200;
  planted_bug = GetParam().bug;
  uint64_t seed = 1;
  SimResult r;
  for (; seed <= kBudget; ++seed) {
    r = Simulate({.seed = seed, .faults = true});
    if (!r.ok) break;
  }
  planted_bug = PlantedBug::kNone;
  ASSERT_FALSE(r.ok) << PlantedBugName(GetParam().bug) << " not found in " << kBudget << " seeds";
  EXPECT_NE(r.failure.find(GetParam().finds), std::string::npos) << r.failure;
  std::printf("%s: found at seed %llu: %s\n", std::string(PlantedBugName(GetParam().bug)).c_str(),
              static_cast<unsigned long long>(seed), r.failure.c_str());
  // The same seed passes without the bug: the failure was the bug's.
  EXPECT_TRUE(Simulate({.seed = seed, .faults = true}).ok);
}

INSTANTIATE_TEST_SUITE_P(Bugs, PlantedBugTest,
                         ::testing::Values(Planted{PlantedBug::kFoldForgetsStockChange, "stock"},
                                           Planted{PlantedBug::kRecoveryResumesLate, "clean run"},
                                           Planted{PlantedBug::kCheckpointBeforeData,
                                                   "projection"}),
                         [](const auto& info) {
                           std::string name(PlantedBugName(info.param.bug));
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace tl::sim
