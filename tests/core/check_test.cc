// TL_CHECK: a broken promise between two pieces of our code stops the
// process, naming the file, the line, the expression and the values.
#include "engine/core/check.h"

#include <gtest/gtest.h>

#include "engine/core/draw.h"
#include "engine/core/state.h"

namespace tl {
namespace {

TEST(CheckDeathTest, ABrokenPromiseAbortsNamingTheExpressionAndTheValues) {
  EXPECT_DEATH(TL_CHECK_LT(3, 2), "check_test.cc:[0-9]+: TL_CHECK failed: 3 < 2 \\(3 vs 2\\)");
  EXPECT_DEATH(TL_CHECK(1 + 1 == 3), "TL_CHECK failed: 1 \\+ 1 == 3");
}

TEST(CheckDeathTest, PositionZeroIsNotAPosition) {
  CampaignState c;
  EXPECT_DEATH((void)c.user_at(0), "TL_CHECK failed: position >= 1u");
  EXPECT_DEATH((void)c.user_at(1), "TL_CHECK failed: position <= by_position.size\\(\\)");
}

TEST(CheckDeathTest, AWinRateAboveOneHundredPercentIsABug) {
  EXPECT_DEATH((void)WinThreshold(10001), "win_bps <= 10000u \\(10001 vs 10000\\)");
}

TEST(Check, APromiseKeptCostsNothingAndPasses) {
  TL_CHECK_EQ(2 + 2, 4);
  TL_CHECK_LE(static_cast<uint64_t>(WinThreshold(10000) >> 64), 1u);
  EXPECT_EQ(static_cast<uint64_t>(WinThreshold(5000) >> 63), 1u);
}

}  // namespace
}  // namespace tl
