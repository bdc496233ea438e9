// The draw against vectors computed by the openssl CLI
// (tests/data/make_draw_vectors.sh), and the threshold arithmetic.
#include "engine/core/draw.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <fstream>
#include <random>
#include <sstream>

namespace tl {
namespace {

Seed SeedFromHex(const std::string& hex) {
  std::string raw;
  EXPECT_TRUE(FromHex(hex, &raw));
  Seed s{};
  EXPECT_EQ(raw.size(), s.size());
  std::copy(raw.begin(), raw.end(), s.begin());
  return s;
}

TEST(Draw, MatchesOpensslVectors) {
  std::ifstream in(TL_TEST_VECTORS);
  ASSERT_TRUE(in) << TL_TEST_VECTORS;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string seed, campaign, pos, user, value, bps, under;
    std::getline(ss, seed, '\t');
    std::getline(ss, campaign, '\t');
    std::getline(ss, pos, '\t');
    std::getline(ss, user, '\t');
    std::getline(ss, value, '\t');
    std::getline(ss, bps, '\t');
    std::getline(ss, under, '\t');
    Drawer d(SeedFromHex(seed));
    uint64_t v = d.DrawValue(campaign, std::stoull(pos), user);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(v));
    EXPECT_EQ(value, hex) << line;
    EXPECT_EQ(UnderThreshold(v, static_cast<uint32_t>(std::stoul(bps))), under == "1") << line;
    ++n;
  }
  EXPECT_EQ(n, 80);
}

TEST(Draw, ThresholdArithmetic) {
  const unsigned __int128 two64 = static_cast<unsigned __int128>(1) << 64;
  EXPECT_EQ(WinThreshold(0), 0u);
  EXPECT_EQ(WinThreshold(10000), two64);
  EXPECT_EQ(WinThreshold(5000), two64 / 2);
  EXPECT_EQ(static_cast<uint64_t>(WinThreshold(1)), 1844674407370955ull);  // floor(2^64/10000)
  EXPECT_EQ(static_cast<uint64_t>(WinThreshold(9999)), 18444899399302180660ull);
  EXPECT_EQ(static_cast<uint64_t>(WinThreshold(500)), 922337203685477580ull);
  // Edges: win_bps 0 never wins, 10000 always does.
  EXPECT_FALSE(UnderThreshold(0, 0));
  EXPECT_TRUE(UnderThreshold(UINT64_MAX, 10000));
  EXPECT_TRUE(UnderThreshold(1844674407370954ull, 1));
  EXPECT_FALSE(UnderThreshold(1844674407370955ull, 1));
  EXPECT_FALSE(UnderThreshold(UINT64_MAX, 9999));
}

TEST(Draw, KeyedMacEqualsOpensslHmac) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    Seed seed;
    for (auto& b : seed) b = static_cast<uint8_t>(rng());
    std::string msg(rng() % 300, '\0');
    for (auto& ch : msg) ch = static_cast<char>(rng());
    Hash want;
    unsigned int len = 0;
    HMAC(EVP_sha256(), seed.data(), 32, reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), want.data(), &len);
    EXPECT_EQ(Drawer(seed).Mac(msg), want);
  }
}

TEST(Draw, PrequeueKeyAndCommitment) {
  Seed seed = SeedFromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  Drawer d(seed);
  EXPECT_EQ(d.PrequeueKey("c1", "alice"), d.Mac("ticketledger/prequeue/v1|c1|alice"));
  EXPECT_NE(d.PrequeueKey("c1", "alice"), d.PrequeueKey("c1", "bob"));
  EXPECT_EQ(SeedCommitment(seed),
            Sha256(std::string_view(reinterpret_cast<const char*>(seed.data()), 32)));
  // Seeds are per campaign and per secret.
  EXPECT_EQ(DeriveSeed("secret", "c1"), DeriveSeed("secret", "c1"));
  EXPECT_NE(DeriveSeed("secret", "c1"), DeriveSeed("secret", "c2"));
  EXPECT_NE(DeriveSeed("secret", "c1"), DeriveSeed("secret2", "c1"));
}

// The seed derivation, both versions, pinned to values openssl computes
// from the rule in draw.h (independent of this code):
//   printf 'ticketledger/seed/v1|c1' | openssl dgst -sha256 -mac HMAC -macopt key:secret
//   printf 'ticketledger/seed/v2|c1|00112233445566778899aabbccddeeff' | openssl dgst ...
TEST(Draw, SeedsDeriveFromTheSecretTheCampaignAndItsNonce) {
  std::string nonce;
  ASSERT_TRUE(FromHex("00112233445566778899aabbccddeeff", &nonce));
  EXPECT_EQ(ToHex(DeriveSeed("secret", "c1")),
            "3e2fa2ecc22319417014aa0bdabe9403f0efb89078bb0fdeb218a35e86d050c6");
  EXPECT_EQ(ToHex(DeriveSeed("secret", "c1", nonce)),
            "25a8626a5b57bbf11b9129a837493166b74658e823967218032090ff3ba3de59");
  // Two deployments sharing the secret and the campaign id, with their own
  // nonces, commit to unrelated seeds.
  EXPECT_NE(DeriveSeed("secret", "c1", nonce), DeriveSeed("secret", "c1", nonce + "x"));
}

TEST(Draw, RateIsTheConfiguredOneOverManyDraws) {
  Drawer d(DeriveSeed("rate-test", "c"));
  int under = 0;
  const int n = 200000;
  for (int p = 1; p <= n; ++p) under += UnderThreshold(d.DrawValue("c", p, "u"), 500);
  // 5% of 200,000 = 10,000; sd ~ 97. Six sigma either way.
  EXPECT_NEAR(under, 10000, 600);
}

}  // namespace
}  // namespace tl
