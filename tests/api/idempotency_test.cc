// api/idempotency: the first answer for a key is replayed for the same
// request, a different request under the key is a conflict, and the table
// forgets its oldest keys first.
#include "api/idempotency.h"

#include <gtest/gtest.h>

#include <string>

namespace tl::api {
namespace {

using Lookup = IdempotencyCache::Lookup;

TEST(Idempotency, MissThenHitWithTheStoredAnswer) {
  IdempotencyCache cache(10);
  StoredResponse out{-1, "untouched"};
  EXPECT_EQ(cache.Find("alice|k1", "h1", &out), Lookup::kMiss);
  EXPECT_EQ(out.status, -1);  // a miss leaves the output alone
  cache.Store("alice|k1", "h1", StoredResponse{201, R"({"position":7})"});
  ASSERT_EQ(cache.Find("alice|k1", "h1", &out), Lookup::kHit);
  EXPECT_EQ(out.status, 201);
  EXPECT_EQ(out.body, R"({"position":7})");
}

TEST(Idempotency, SameKeyDifferentRequestIsAConflict) {
  IdempotencyCache cache(10);
  cache.Store("alice|k1", "h1", StoredResponse{201, "first"});
  StoredResponse out{-1, "untouched"};
  EXPECT_EQ(cache.Find("alice|k1", "h2", &out), Lookup::kConflict);
  EXPECT_EQ(out.body, "untouched");
  // Keys are exact: another principal's key of the same name is separate.
  EXPECT_EQ(cache.Find("bob|k1", "h1", &out), Lookup::kMiss);
}

TEST(Idempotency, TheFirstAnswerStays) {
  IdempotencyCache cache(10);
  cache.Store("k", "h1", StoredResponse{201, "first"});
  cache.Store("k", "h2", StoredResponse{409, "second"});
  StoredResponse out;
  EXPECT_EQ(cache.Find("k", "h2", &out), Lookup::kConflict);
  ASSERT_EQ(cache.Find("k", "h1", &out), Lookup::kHit);
  EXPECT_EQ(out.status, 201);
  EXPECT_EQ(out.body, "first");
}

TEST(Idempotency, OldestKeysAreForgottenFirst) {
  IdempotencyCache cache(3);
  for (int i = 1; i <= 3; ++i) cache.Store("k" + std::to_string(i), "h", StoredResponse{200, ""});
  StoredResponse out;
  // Looking a key up does not make it young: eviction is by insertion.
  EXPECT_EQ(cache.Find("k1", "h", &out), Lookup::kHit);
  cache.Store("k4", "h", StoredResponse{200, ""});
  EXPECT_EQ(cache.Find("k1", "h", &out), Lookup::kMiss);
  EXPECT_EQ(cache.Find("k2", "h", &out), Lookup::kHit);
  EXPECT_EQ(cache.Find("k4", "h", &out), Lookup::kHit);
  cache.Store("k5", "h", StoredResponse{200, ""});
  cache.Store("k6", "h", StoredResponse{200, ""});
  EXPECT_EQ(cache.Find("k2", "h", &out), Lookup::kMiss);
  EXPECT_EQ(cache.Find("k3", "h", &out), Lookup::kMiss);
  for (const char* k : {"k4", "k5", "k6"}) EXPECT_EQ(cache.Find(k, "h", &out), Lookup::kHit) << k;
}

TEST(Idempotency, AForgottenKeyCanBeStoredAgain) {
  IdempotencyCache cache(1);
  cache.Store("a", "h1", StoredResponse{201, "a1"});
  cache.Store("b", "h", StoredResponse{201, "b"});
  StoredResponse out;
  EXPECT_EQ(cache.Find("a", "h2", &out), Lookup::kMiss);
  cache.Store("a", "h2", StoredResponse{201, "a2"});
  ASSERT_EQ(cache.Find("a", "h2", &out), Lookup::kHit);
  EXPECT_EQ(out.body, "a2");
  EXPECT_EQ(cache.Find("b", "h", &out), Lookup::kMiss);
}

}  // namespace
}  // namespace tl::api
