// api/rate_limiter: a burst, then a wait of about 1/rate; keys apart; the
// table bounded (idle keys dropped first, then new keys refused).
#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tl::api {
namespace {

// Refill so slow that it cannot add a token while a test runs.
constexpr double kSlow = 0.001;  // one token per 1000 s

TEST(RateLimiter, ZeroRateDisablesIt) {
  RateLimiter off(0, 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(off.Take("alice"), 0);
}

TEST(RateLimiter, BurstThenWaitOfAboutOneOverRate) {
  RateLimiter rl(kSlow, 3);
  EXPECT_EQ(rl.Take("alice"), 0);
  EXPECT_EQ(rl.Take("alice"), 0);
  EXPECT_EQ(rl.Take("alice"), 0);
  double wait = rl.Take("alice");
  EXPECT_GT(wait, 990);  // about 1 / 0.001 s, less what refilled meanwhile
  EXPECT_LE(wait, 1000);
  // A refused take costs nothing: the wait does not grow.
  EXPECT_LE(rl.Take("alice"), wait);
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter rl(kSlow, 1);
  EXPECT_EQ(rl.Take("alice"), 0);
  EXPECT_GT(rl.Take("alice"), 0);
  EXPECT_EQ(rl.Take("bob"), 0);
  EXPECT_EQ(rl.Take(""), 0);  // the empty key is a key like any other
  EXPECT_GT(rl.Take("bob"), 0);
}

TEST(RateLimiter, BurstBelowOneStillAllowsOne) {
  RateLimiter rl(kSlow, 0);
  EXPECT_EQ(rl.Take("alice"), 0);
  EXPECT_GT(rl.Take("alice"), 0);
}

TEST(RateLimiter, TokensComeBackAtTheRate) {
  // One token per 100 ms: wide enough that a descheduled test thread on a
  // busy machine does not refill the bucket between two takes.
  RateLimiter rl(10, 1);
  EXPECT_EQ(rl.Take("alice"), 0);
  double wait = rl.Take("alice");
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 0.1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(rl.Take("alice"), 0);
  // Idle time beyond the burst is not banked.
  EXPECT_GT(rl.Take("alice"), 0);
}

TEST(RateLimiter, FullTableRefusesNewKeysWhileNoneIsIdle) {
  RateLimiter rl(kSlow, 2, /*max_keys=*/2);
  EXPECT_EQ(rl.Take("a"), 0);
  EXPECT_EQ(rl.Take("b"), 0);
  // a and b each still owe a token: neither is idle, so c is refused
  // (fail closed), while the keys already there keep their buckets.
  EXPECT_GT(rl.Take("c"), 0);
  EXPECT_GT(rl.Take("c"), 0);
  EXPECT_EQ(rl.Take("a"), 0);
  EXPECT_GT(rl.Take("a"), 0);
}

TEST(RateLimiter, FullTableDropsIdleKeysForNewOnes) {
  RateLimiter rl(1000, 1, /*max_keys=*/2);  // a bucket is full again after 1 ms
  EXPECT_EQ(rl.Take("a"), 0);
  EXPECT_EQ(rl.Take("b"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(rl.Take("c"), 0);
  EXPECT_EQ(rl.Take("d"), 0);
}

TEST(RateLimiter, ConcurrentTakesNeverExceedTheBurst) {
  RateLimiter rl(kSlow, 100);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (rl.Take("shared") == 0) allowed++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace tl::api
