// api/jwt: HS256 only, expiry without leeway, and a clear refusal for every
// malformed or forged token (never echoing the token).
#include "api/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"

namespace tl::api {
namespace {

using json = nlohmann::json;

constexpr char kSecret[] = "jwt-test-secret-0123456789abcdef";
constexpr int64_t kNow = 1'800'000'000;

// HMAC-SHA256 computed here with OpenSSL, independently of api/jwt.cc.
std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A token with any header and payload text, correctly signed with HS256
// under `secret`, so that only the part under test is wrong.
std::string Signed(const std::string& header, const std::string& payload,
                   const std::string& secret = kSecret) {
  std::string signing = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  return signing + "." + Base64UrlEncode(Hmac(secret, signing));
}

const std::string kHs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string WithPayload(const json& payload) { return Signed(kHs256, payload.dump()); }

void ExpectRefused(const absl::StatusOr<Claims>& c, const std::string& why) {
  ASSERT_FALSE(c.ok()) << "accepted, sub=" << c->sub;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  EXPECT_NE(std::string(c.status().message()).find(why), std::string::npos)
      << "message: " << c.status().message() << "\nwanted: " << why;
}

TEST(Jwt, MintedTokenVerifiesWithItsClaims) {
  std::string token = MintJwt(Claims{"alice", false, kNow + 60}, kSecret);
  auto c = VerifyJwt(token, kSecret, kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sub, "alice");
  EXPECT_FALSE(c->admin);
  EXPECT_EQ(c->exp, kNow + 60);

  auto admin = VerifyJwt(MintJwt(Claims{"root", true, kNow + 1}, kSecret), kSecret, kNow);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_TRUE(admin->admin);
  EXPECT_FALSE(admin->shop);
  EXPECT_EQ(admin->sub, "root");

  Claims shop_claims{"acme", false, kNow + 60};
  shop_claims.shop = true;
  auto shop = VerifyJwt(MintJwt(shop_claims, kSecret), kSecret, kNow);
  ASSERT_TRUE(shop.ok()) << shop.status();
  EXPECT_TRUE(shop->shop);
  EXPECT_FALSE(shop->admin);
  EXPECT_FALSE(c->shop);
}

TEST(Jwt, TokenSignedElsewhereVerifies) {
  // A token built by hand (as another issuer would) with extra claims.
  auto c =
      VerifyJwt(WithPayload({{"sub", "zoë"}, {"exp", kNow + 5}, {"iss", "shop"}}), kSecret, kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sub, "zoë");
}

TEST(Jwt, WrongSecretIsABadSignature) {
  std::string token = MintJwt(Claims{"alice", false, kNow + 60}, kSecret);
  ExpectRefused(VerifyJwt(token, "another-secret", kNow), "bad signature");
  ExpectRefused(VerifyJwt(token, "", kNow), "bad signature");
}

TEST(Jwt, TamperedPayloadIsABadSignature) {
  std::string token = MintJwt(Claims{"alice", false, kNow + 60}, kSecret);
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string forged =
      token.substr(0, dot1 + 1) +
      Base64UrlEncode(json{{"sub", "alice"}, {"exp", kNow + 60}, {"role", "admin"}}.dump()) +
      token.substr(dot2);
  ExpectRefused(VerifyJwt(forged, kSecret, kNow), "bad signature");
  // A signature cut short, or empty.
  ExpectRefused(VerifyJwt(token.substr(0, token.size() - 2), kSecret, kNow), "");
  ExpectRefused(VerifyJwt(token.substr(0, dot2 + 1), kSecret, kNow), "bad signature");
}

TEST(Jwt, OnlyHs256IsAccepted) {
  const json payload = {{"sub", "mallory"}, {"exp", kNow + 60}, {"role", "admin"}};
  // alg none with an empty signature: the classic hole.
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                     Base64UrlEncode(payload.dump()) + ".";
  ExpectRefused(VerifyJwt(none, kSecret, kNow), "algorithm must be HS256");
  // Other algorithms, even correctly HMAC'd with the secret, and odd spellings.
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS512"})", R"({"alg":"RS256"})", R"({"alg":"hs256"})",
        R"({"alg":"HS256 "})", R"({"alg":256})", R"({"alg":null})", R"({"typ":"JWT"})", "{}"}) {
    SCOPED_TRACE(header);
    ExpectRefused(VerifyJwt(Signed(header, payload.dump()), kSecret, kNow),
                  "algorithm must be HS256");
  }
}

TEST(Jwt, ExpiryHasNoLeeway) {
  ExpectRefused(VerifyJwt(MintJwt(Claims{"a", false, kNow}, kSecret), kSecret, kNow), "expired");
  ExpectRefused(VerifyJwt(MintJwt(Claims{"a", false, kNow - 1}, kSecret), kSecret, kNow),
                "expired");
  EXPECT_TRUE(VerifyJwt(MintJwt(Claims{"a", false, kNow + 1}, kSecret), kSecret, kNow).ok());
  ExpectRefused(VerifyJwt(WithPayload({{"sub", "a"}, {"exp", -5}}), kSecret, kNow), "expired");
}

TEST(Jwt, ExpMustBeThereAndANumber) {
  ExpectRefused(VerifyJwt(WithPayload({{"sub", "a"}}), kSecret, kNow), "no exp claim");
  ExpectRefused(VerifyJwt(WithPayload({{"sub", "a"}, {"exp", "9999999999"}}), kSecret, kNow),
                "no exp claim");
  ExpectRefused(VerifyJwt(WithPayload({{"sub", "a"}, {"exp", nullptr}}), kSecret, kNow),
                "no exp claim");
  ExpectRefused(VerifyJwt(WithPayload({{"sub", "a"}, {"exp", true}}), kSecret, kNow),
                "no exp claim");
}

TEST(Jwt, ExpOutsideTheRangeOfSecondsIsRefused) {
  // A NumericDate too large for int64 seconds must be refused, not cast.
  for (const char* exp : {"1e300", "-1e300", "9.3e18", "18446744073709551615"}) {
    SCOPED_TRACE(exp);
    std::string payload = std::string(R"({"sub":"a","exp":)") + exp + "}";
    ExpectRefused(VerifyJwt(Signed(kHs256, payload), kSecret, kNow), "exp claim out of range");
  }
  // Nor may a far-future nbf wrap round to the past.
  for (const char* nbf : {"1e300", "9.3e18", "18446744073709551615"}) {
    SCOPED_TRACE(nbf);
    std::string payload =
        R"({"sub":"a","exp":)" + std::to_string(kNow + 10) + R"(,"nbf":)" + nbf + "}";
    ExpectRefused(VerifyJwt(Signed(kHs256, payload), kSecret, kNow), "not valid yet");
  }
  // A fractional NumericDate (RFC 7519 allows one) is fine.
  std::string payload = R"({"sub":"a","exp":)" + std::to_string(kNow + 10) + ".5}";
  auto frac = VerifyJwt(Signed(kHs256, payload), kSecret, kNow);
  ASSERT_TRUE(frac.ok()) << frac.status();
  EXPECT_EQ(frac->exp, kNow + 10);
  // The largest int64 is a time like any other.
  auto max = VerifyJwt(WithPayload({{"sub", "a"}, {"exp", INT64_MAX}}), kSecret, kNow);
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->exp, INT64_MAX);
}

TEST(Jwt, NotBefore) {
  EXPECT_TRUE(
      VerifyJwt(WithPayload({{"sub", "a"}, {"exp", kNow + 60}, {"nbf", kNow}}), kSecret, kNow)
          .ok());
  ExpectRefused(
      VerifyJwt(WithPayload({{"sub", "a"}, {"exp", kNow + 60}, {"nbf", kNow + 1}}), kSecret, kNow),
      "not valid yet");
  ExpectRefused(
      VerifyJwt(WithPayload({{"sub", "a"}, {"exp", kNow + 60}, {"nbf", "soon"}}), kSecret, kNow),
      "not valid yet");
}

TEST(Jwt, SubMustBeANonEmptyString) {
  ExpectRefused(VerifyJwt(WithPayload({{"exp", kNow + 60}}), kSecret, kNow), "no sub claim");
  ExpectRefused(VerifyJwt(WithPayload({{"sub", ""}, {"exp", kNow + 60}}), kSecret, kNow),
                "no sub claim");
  ExpectRefused(VerifyJwt(WithPayload({{"sub", 42}, {"exp", kNow + 60}}), kSecret, kNow),
                "no sub claim");
}

TEST(Jwt, OnlyTheStringAdminRoleIsAdmin) {
  for (const json& role : {json("Admin"), json("user"), json(true), json::array({"admin"}),
                           json("Shop"), json::array({"shop"})}) {
    SCOPED_TRACE(role.dump());
    auto c =
        VerifyJwt(WithPayload({{"sub", "a"}, {"exp", kNow + 60}, {"role", role}}), kSecret, kNow);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->admin);
    EXPECT_FALSE(c->shop);
  }
}

TEST(Jwt, MalformedPartsAreRefused) {
  std::string good = MintJwt(Claims{"a", false, kNow + 60}, kSecret);
  size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  ExpectRefused(VerifyJwt("", kSecret, kNow), "not three dot-separated parts");
  ExpectRefused(VerifyJwt("abc", kSecret, kNow), "not three dot-separated parts");
  ExpectRefused(VerifyJwt(good.substr(0, dot2), kSecret, kNow), "not three dot-separated parts");
  ExpectRefused(VerifyJwt(good + ".", kSecret, kNow), "not three dot-separated parts");
  ExpectRefused(VerifyJwt(good + ".x", kSecret, kNow), "not three dot-separated parts");
  // Characters outside base64url: standard base64's '+' '/' '=', spaces.
  for (char bad : {'+', '/', '=', ' ', '\n', '\0'}) {
    std::string t = good;
    t.insert(t.begin() + static_cast<std::ptrdiff_t>(dot1 + 1), bad);
    SCOPED_TRACE(static_cast<int>(bad));
    ExpectRefused(VerifyJwt(t, kSecret, kNow), "not base64url");
  }
  // A length no base64 text has (4n + 1).
  ExpectRefused(VerifyJwt("abcde." + good.substr(dot1 + 1), kSecret, kNow), "not base64url");
  ExpectRefused(VerifyJwt(Signed("not json", R"({"sub":"a","exp":1})"), kSecret, kNow),
                "header is not a JSON object");
  ExpectRefused(VerifyJwt(Signed(R"(["HS256"])", R"({"sub":"a","exp":1})"), kSecret, kNow),
                "header is not a JSON object");
  ExpectRefused(VerifyJwt(Signed(kHs256, "not json"), kSecret, kNow),
                "payload is not a JSON object");
  ExpectRefused(VerifyJwt(Signed(kHs256, R"("alice")"), kSecret, kNow),
                "payload is not a JSON object");
}

TEST(Jwt, LongTokensAreRefusedBeforeParsing) {
  std::string big = WithPayload({{"sub", std::string(4000, 'a')}, {"exp", kNow + 60}});
  ASSERT_GT(big.size(), 4096u);
  ExpectRefused(VerifyJwt(big, kSecret, kNow), "longer than 4096 bytes");
  ExpectRefused(VerifyJwt(std::string(5000, '.'), kSecret, kNow), "longer than 4096 bytes");
}

TEST(Jwt, ErrorsNeverEchoTheToken) {
  std::string token = WithPayload({{"sub", "secret-user-name"}, {"exp", kNow - 1}});
  auto c = VerifyJwt(token, kSecret, kNow);
  ASSERT_FALSE(c.ok());
  std::string msg(c.status().message());
  EXPECT_EQ(msg.find("secret-user-name"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(token.substr(0, 10)), std::string::npos) << msg;
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += (n < 8 ? 1 : 37)) {
    std::string in = all.substr(0, n);
    std::string enc = Base64UrlEncode(in);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos) << enc;
    std::string out;
    ASSERT_TRUE(Base64UrlDecode(enc, &out)) << n;
    EXPECT_EQ(out, in) << n;
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");  // RFC 4648 section 5's alphabet
}

TEST(Base64Url, RefusesWhatIsNotBase64Url) {
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("ab+c", &out));
  EXPECT_FALSE(Base64UrlDecode("ab/c", &out));
  EXPECT_FALSE(Base64UrlDecode("YQ==", &out));  // padding is not part of base64url in a JWT
  EXPECT_FALSE(Base64UrlDecode("a", &out));     // 4n + 1 characters
  EXPECT_FALSE(Base64UrlDecode("abcde", &out));
  EXPECT_TRUE(Base64UrlDecode("", &out));
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace tl::api
