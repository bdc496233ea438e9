// The Redis read model's URL parsing and key layout (projections/redis): the
// layout redis_sink.h documents, shared by the writer, the reader and the
// rebuild, and a clear error for every bad URL, never showing the password.
#include "projections/redis/redis_keys.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/core/limits.h"
#include "projections/redis/redis_sink.h"

namespace tl::proj {
namespace {

// ParseRedisUrl reads $REDIS_PASSWORD: each test starts without it and
// leaves the environment as it found it.
class RedisUrl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* p = std::getenv("REDIS_PASSWORD")) saved_ = p;
    unsetenv("REDIS_PASSWORD");
  }
  void TearDown() override {
    if (saved_) {
      setenv("REDIS_PASSWORD", saved_->c_str(), 1);
    } else {
      unsetenv("REDIS_PASSWORD");
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(RedisUrl, HostPortAndDatabase) {
  auto o = ParseRedisUrl("redis://cache.internal:6380/3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 3);
  EXPECT_EQ(o->password, "");
  EXPECT_EQ(o->prefix, "tl:");  // not part of the URL
}

TEST_F(RedisUrl, DefaultsForWhatIsLeftOut) {
  for (const char* url :
       {"redis://", "redis://127.0.0.1", "redis://:6379", "redis://127.0.0.1/0"}) {
    SCOPED_TRACE(url);
    auto o = ParseRedisUrl(url);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->host, "127.0.0.1");
    EXPECT_EQ(o->port, 6379);
    EXPECT_EQ(o->db, 0);
  }
}

TEST_F(RedisUrl, Passwords) {
  auto bare = ParseRedisUrl("redis://:s3cret@h:1");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->password, "s3cret");
  EXPECT_EQ(bare->host, "h");
  EXPECT_EQ(bare->port, 1);
  // A user name (Redis 6 ACLs) is not used; the password after it is.
  auto user = ParseRedisUrl("redis://default:pw@h");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->password, "pw");
  EXPECT_EQ(user->host, "h");
  // '@', ':' and '/' inside the password: the last '@' ends it.
  auto odd = ParseRedisUrl("redis://:p@ss:w/rd@h:7/2");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->password, "p@ss:w/rd");
  EXPECT_EQ(odd->host, "h");
  EXPECT_EQ(odd->port, 7);
  EXPECT_EQ(odd->db, 2);
}

TEST_F(RedisUrl, PasswordFromTheEnvironmentOnlyWhenTheUrlHasNone) {
  setenv("REDIS_PASSWORD", "from-env", 1);
  auto env = ParseRedisUrl("redis://h");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->password, "from-env");
  auto url = ParseRedisUrl("redis://:from-url@h");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->password, "from-url");
}

TEST_F(RedisUrl, Ipv6Literals) {
  auto o = ParseRedisUrl("redis://[::1]:6390/1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "::1");  // as getaddrinfo wants it, without brackets
  EXPECT_EQ(o->port, 6390);
  EXPECT_EQ(o->db, 1);
  auto no_port = ParseRedisUrl("redis://:pw@[fe80::2]");
  ASSERT_TRUE(no_port.ok()) << no_port.status();
  EXPECT_EQ(no_port->host, "fe80::2");
  EXPECT_EQ(no_port->port, 6379);
  EXPECT_EQ(no_port->password, "pw");
  auto open = ParseRedisUrl("redis://[::1");
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
}

void ExpectBad(const std::string& url, const std::string& why) {
  SCOPED_TRACE(url);
  auto o = ParseRedisUrl(url);
  ASSERT_FALSE(o.ok()) << "accepted: host " << o->host << " port " << o->port;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << o.status();
  EXPECT_NE(std::string(o.status().message()).find(why), std::string::npos) << o.status();
  EXPECT_EQ(std::string(o.status().message()).find("hunter2"), std::string::npos) << o.status();
}

TEST_F(RedisUrl, BadUrlsAreRefusedClearly) {
  for (const char* url : {"", "127.0.0.1:6379", "http://h", "rediss://h", "REDIS://h", "unix:///s"})
    ExpectBad(url, "starts with redis://");
  for (const char* port : {"0", "65536", "-1", "abc", "", "99999999999"})
    ExpectBad(std::string("redis://:hunter2@h:") + port, "port is not a port");
  for (const char* db : {"abc", "-1", "99999999999", "0?timeout=1"})
    ExpectBad(std::string("redis://:hunter2@h:1/") + db, "database is not a number");
}

// Found by fuzzing (tests/fuzz/settings_fuzz.cc): a bracket outside an IPv6
// literal was taken into the host name ("h:0]:6379" became host "h:0]").
TEST_F(RedisUrl, BracketsOnlyAroundAnIpv6Address) {
  for (const char* url : {"redis://:hunter2@data-dirpostgr:0]:6379", "redis://:hunter2@h]:1",
                          "redis://:hunter2@[[::1]:1", "redis://:hunter2@a[b:1/0"})
    ExpectBad(url, "'[' or ']'");
}

TEST(RedisKeys, TheDocumentedLayout) {
  // redis_sink.h: <prefix>current names the namespace; keys live under <prefix><ns>.
  EXPECT_EQ(redis_keys::Current("tl:"), "tl:current");
  EXPECT_EQ(redis_keys::RebuildMarker("tl:"), "tl:rebuild");
  EXPECT_EQ(redis_keys::RebuildCounter("tl:"), "tl:rebuilds");
  const std::string base = "tl:v1";
  EXPECT_EQ(redis_keys::Campaigns(base), "tl:v1:campaigns");
  // The channel is outside the namespace: a rebuild's swap does not move it.
  EXPECT_EQ(redis_keys::Events("tl:", "spring-sale"), "tl:events:spring-sale");
  // Every key of a campaign names it, and the checkpoints are apart from them.
  for (const char* id : {"a", "rank", "ckpt", "A.b_c-9", "campaigns"}) {
    SCOPED_TRACE(id);
    ASSERT_TRUE(ValidateCampaignId(id, Limits{}).ok());
    for (const std::string& key : redis_keys::CampaignKeys(base, id)) {
      EXPECT_NE(key.find(std::string(":") + id), std::string::npos) << key;
      EXPECT_NE(key, redis_keys::Campaigns(base));
      EXPECT_NE(key, redis_keys::Checkpoint(base, 0));
    }
    EXPECT_NE(redis_keys::Rank(base, id), redis_keys::Status(base, id));
    EXPECT_NE(redis_keys::Status(base, id), redis_keys::Summary(base, id));
  }
  EXPECT_NE(redis_keys::Checkpoint(base, 0), redis_keys::Checkpoint(base, 1));
}

TEST(RedisKeys, StatusValuesNameThePositionAndTheStatus) {
  EXPECT_NE(redis_keys::StatusValue(7, "won"), redis_keys::StatusValue(7, "lost"));
  EXPECT_NE(redis_keys::StatusValue(7, "won"), redis_keys::StatusValue(8, "won"));
  EXPECT_EQ(redis_keys::StatusValue(7, "won"), "7|won");
  EXPECT_EQ(
      redis_keys::RejectedValue("REJECT_DUPLICATE"),
      redis_keys::StatusValue(0, std::string(redis_keys::kRejectedPrefix) + "REJECT_DUPLICATE"));
}

TEST(RedisKeys, StatusValuesCarryAHoldAndAWaitlistRankOnlyWhenSet) {
  EXPECT_EQ(redis_keys::StatusValue(7, "won", 0, 0), "7|won");  // as before holds
  EXPECT_EQ(redis_keys::StatusValue(7, "won", 1767225660000, 0), "7|won|1767225660000|0");
  EXPECT_EQ(redis_keys::StatusValue(3, "waitlisted", 0, 12), "3|waitlisted|0|12");
  for (const auto& [pos, status, hold, rank] :
       std::vector<std::tuple<uint64_t, std::string, uint64_t, uint64_t>>{
           {7, "won", 0, 0},
           {7, "won", 1767225660000, 4},
           {3, "waitlisted", 0, 12},
           {9, "expired", 55, 0},
           {0, "prequeued", 0, 0}}) {
    const redis_keys::StatusFields f =
        redis_keys::ParseStatusValue(redis_keys::StatusValue(pos, status, hold, rank));
    EXPECT_EQ(f.position, pos);
    EXPECT_EQ(f.status, status);
    EXPECT_EQ(f.hold_until_ms, hold);
    EXPECT_EQ(f.waitlist_rank, rank);
  }
  const redis_keys::StatusFields r =
      redis_keys::ParseStatusValue(redis_keys::RejectedValue("REJECT_HOLD_EXPIRED"));
  EXPECT_EQ(r.position, 0u);
  EXPECT_EQ(r.status, "rejected:REJECT_HOLD_EXPIRED");
  EXPECT_EQ(redis_keys::ParseStatusValue("queued").status, "queued");  // no position at all
}

}  // namespace
}  // namespace tl::proj
