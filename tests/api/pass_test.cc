// Admission passes (api/pass.h): Ed25519 JWTs a shop verifies against the JWKS.
#include "api/pass.h"

#include <gtest/gtest.h>

#include "api/jwt.h"
#include "tests/support/ticketd_process.h"

namespace tl::api {
namespace {

using json = nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;

PassSigner Signer() {
  PassSigner s;
  s.key = *PassKey::FromPem(testing::kPassKeyPem);
  return s;
}

// The pass with its payload replaced by `payload` (the signature kept).
std::string WithPayload(const std::string& pass, const json& payload) {
  const size_t d1 = pass.find('.'), d2 = pass.rfind('.');
  return pass.substr(0, d1 + 1) + Base64UrlEncode(payload.dump()) + pass.substr(d2);
}

TEST(Pass, SignedPassVerifiesWithItsClaims) {
  const PassSigner s = Signer();
  const std::string pass = s.Mint("drop", 7, "alice", kNow);
  absl::StatusOr<json> claims = VerifyPass(pass, s.key.Jwks(), kNow + 1);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(*claims, (json{{"iss", "ticketledger"},
                           {"sub", "alice"},
                           {"campaign", "drop"},
                           {"position", 7},
                           {"jti", "drop:7"},
                           {"iat", kNow},
                           {"exp", kNow + 900}}));
  std::string header;
  ASSERT_TRUE(Base64UrlDecode(pass.substr(0, pass.find('.')), &header));
  EXPECT_EQ(json::parse(header), (json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", s.key.kid()}}));
  // The hold deadline, once holds exist, is the exp.
  EXPECT_EQ((*VerifyPass(s.Mint("drop", 7, "alice", kNow, kNow + 60), s.key.Jwks(), kNow))["exp"],
            kNow + 60);
}

TEST(Pass, JwksHasTheEd25519PublicKeyAndItsKid) {
  const PassKey k = Signer().key;
  const json jwk = k.Jwks()["keys"][0];
  EXPECT_EQ(jwk["kty"], "OKP");
  EXPECT_EQ(jwk["crv"], "Ed25519");
  EXPECT_EQ(jwk["alg"], "EdDSA");
  EXPECT_EQ(jwk["use"], "sig");
  std::string x;
  ASSERT_TRUE(Base64UrlDecode(jwk["x"].get<std::string>(), &x));
  EXPECT_EQ(x, k.public_key());
  EXPECT_EQ(x.size(), 32u);
  EXPECT_EQ(jwk["kid"].get<std::string>().size(), 11u);  // 8 bytes, base64url
}

TEST(Pass, TheDevelopmentKeyIsTheSameEveryTime) {
  EXPECT_EQ(PassKey::Dev().public_key(), PassKey::Dev().public_key());
  EXPECT_NE(PassKey::Dev().public_key(), Signer().key.public_key());
  PassSigner dev;
  dev.key = PassKey::Dev();
  EXPECT_TRUE(VerifyPass(dev.Mint("c", 1, "u", kNow), PassKey::Dev().Jwks(), kNow).ok());
}

TEST(Pass, EveryFailedCheckIsNamed) {
  const PassSigner s = Signer();
  const json jwks = s.key.Jwks();
  const std::string pass = s.Mint("drop", 7, "alice", kNow);
  auto why = [&](const std::string& p, const json& keys = json(), int64_t now = kNow) {
    absl::StatusOr<json> r = VerifyPass(p, keys.is_null() ? jwks : keys, now);
    EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();
    return std::string(r.status().message());
  };
  // Tampered payload: another position, same signature.
  std::string payload;
  ASSERT_TRUE(Base64UrlDecode(pass.substr(pass.find('.') + 1, pass.rfind('.') - pass.find('.') - 1),
                              &payload));
  json tampered = json::parse(payload);
  tampered["position"] = 1;
  EXPECT_EQ(why(WithPayload(pass, tampered)), "invalid pass: bad signature");
  // A pass of another key carrying our kid.
  PassSigner other;
  other.key = PassKey::Dev();
  std::string forged = other.Mint("drop", 7, "alice", kNow);
  std::string header =
      Base64UrlEncode(json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", s.key.kid()}}.dump());
  forged = header + forged.substr(forged.find('.'));
  EXPECT_EQ(why(forged), "invalid pass: bad signature");
  // The same pass against the JWKS of another key: an unknown kid.
  EXPECT_NE(why(pass, other.key.Jwks()).find("unknown kid"), std::string::npos);
  // Wrong algorithm: HS256 (a token of the user secret) and "none".
  EXPECT_EQ(why(MintJwt({"alice", false, kNow + 60}, "some-secret-0123456789")),
            "invalid pass: algorithm must be EdDSA");
  std::string none = Base64UrlEncode(R"({"alg":"none","kid":")" + s.key.kid() + "\"}") +
                     pass.substr(pass.find('.'));
  EXPECT_EQ(why(none), "invalid pass: algorithm must be EdDSA");
  // Expired, and issued too far ahead.
  EXPECT_NE(why(pass, json(), kNow + 900).find("expired"), std::string::npos);
  EXPECT_TRUE(VerifyPass(pass, jwks, kNow - 60).ok());
  EXPECT_NE(why(pass, json(), kNow - 61).find("issued in the future"), std::string::npos);
  // Not a JWT at all.
  EXPECT_EQ(why("abc"), "invalid pass: not three dot-separated parts");
  EXPECT_EQ(why(std::string(5000, 'a')), "invalid pass: longer than 4096 bytes");
  // A JWKS that is not one is a usage error, not a bad pass.
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyPass(pass, json::array(), kNow).status()));
}

TEST(Pass, AKeyThatIsNotEd25519IsRefusedWithoutEchoingIt) {
  absl::StatusOr<PassKey> k = PassKey::FromPem("not a pem secret-text");
  ASSERT_TRUE(absl::IsInvalidArgument(k.status()));
  EXPECT_EQ(std::string(k.status().message()).find("secret-text"), std::string::npos);
  // An X25519 key is a key, but not one that signs.
  k = PassKey::FromPem(
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEIJAqcHUT4HCq3iBN1lFmei7tU2wADsikPplDQHOEOSdS\n"
      "-----END PRIVATE KEY-----\n");
  ASSERT_TRUE(absl::IsInvalidArgument(k.status()));
  EXPECT_NE(std::string(k.status().message()).find("not an Ed25519 key"), std::string::npos);
}

}  // namespace
}  // namespace tl::api
