// Token verification (api/jwt.h, api/pass.h): the bearer tokens every
// request carries (VerifyJwt, HS256), the admission passes a shop presents
// (VerifyPass, EdDSA, against a JWKS that `ticketctl pass verify --jwks`
// reads from a file) and the pass key's PEM. The first byte picks what the
// rest is; parts are separated by newlines:
//   0 a token                  1 header \n payload, signed here with the secret
//   2 a pass                   3 header \n payload, signed here with the dev pass key
//   4 a pass \n a JWKS         5 a PEM private key
// Signing inside the target lets the fuzzer reach the claims behind the
// signature. A refusal is a Status of the documented code, never a crash or
// an exception; what verifies satisfies the claims' rules (a subject, not
// expired, not before nbf / iat in the leeway), and a token minted from the
// claims verifies to the same claims.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/jwt.h"
#include "api/pass.h"
#include "fuzz_check.h"

namespace {

constexpr char kSecret[] = "fuzz-jwt-secret-0123456789abcdef";
constexpr int64_t kNow = 1'767'225'600;

std::string Hmac(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), kSecret, sizeof kSecret - 1,
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// The dev pass key's private half, as PassKey::Dev derives it.
EVP_PKEY* DevKey() {
  static EVP_PKEY* key = [] {
    unsigned char seed[32];
    const std::string label = "ticketledger/dev-pass-key/v1";
    EVP_Digest(label.data(), label.size(), seed, nullptr, EVP_sha256(), nullptr);
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof seed);
  }();
  return key;
}

std::string SignEd25519(std::string_view data) {
  unsigned char sig[64];
  size_t len = sizeof sig;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  FUZZ_CHECK(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, DevKey()) == 1);
  FUZZ_CHECK(EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(data.data()),
                            data.size()) == 1);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(sig), len);
}

void Jwt(std::string_view token) {
  absl::StatusOr<tl::api::Claims> c = tl::api::VerifyJwt(token, kSecret, kNow);
  if (!c.ok()) {
    FUZZ_CHECK(absl::IsUnauthenticated(c.status()));
    FUZZ_CHECK(c.status().message().rfind("invalid token: ", 0) == 0);
    return;
  }
  FUZZ_CHECK(!c->sub.empty() && c->exp > kNow && !(c->admin && c->shop));
  // Minted again from its claims, it verifies to the same claims.
  absl::StatusOr<tl::api::Claims> again =
      tl::api::VerifyJwt(tl::api::MintJwt(*c, kSecret), kSecret, kNow);
  FUZZ_CHECK(again.ok() && again->sub == c->sub && again->exp == c->exp &&
             again->admin == c->admin && again->shop == c->shop);
  // Under another secret it never verifies.
  FUZZ_CHECK(!tl::api::VerifyJwt(token, "another-secret-0123456789abcdef", kNow).ok());
}

void Pass(std::string_view pass, const nlohmann::json& jwks) {
  absl::StatusOr<nlohmann::json> p = tl::api::VerifyPass(pass, jwks, kNow);
  if (!p.ok()) {
    // PERMISSION_DENIED "invalid pass: ..."; INVALID_ARGUMENT: the JWKS itself.
    FUZZ_CHECK(absl::IsPermissionDenied(p.status()) || absl::IsInvalidArgument(p.status()));
    return;
  }
  FUZZ_CHECK(p->is_object() && p->contains("exp"));
  (void)p->dump();  // what `ticketctl pass verify` prints
}

// "a\nb" -> "a", "b"; no newline: all of it, "".
std::pair<std::string_view, std::string_view> Split(std::string_view s) {
  const size_t nl = s.find('\n');
  if (nl == std::string_view::npos) return {s, {}};
  return {s.substr(0, nl), s.substr(nl + 1)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const nlohmann::json dev_jwks = tl::api::PassKey::Dev().Jwks();
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
      Jwt(rest);
      break;
    case 1: {
      auto [header, payload] = Split(rest);
      const std::string signing =
          tl::api::Base64UrlEncode(header) + "." + tl::api::Base64UrlEncode(payload);
      Jwt(signing + "." + tl::api::Base64UrlEncode(Hmac(signing)));
      break;
    }
    case 2:
      Pass(rest, dev_jwks);
      break;
    case 3: {
      auto [header, payload] = Split(rest);
      const std::string signing =
          tl::api::Base64UrlEncode(header) + "." + tl::api::Base64UrlEncode(payload);
      Pass(signing + "." + tl::api::Base64UrlEncode(SignEd25519(signing)), dev_jwks);
      break;
    }
    case 4: {
      auto [pass, jwks] = Split(rest);
      Pass(pass, nlohmann::json::parse(jwks, nullptr, false));
      break;
    }
    case 5: {
      absl::StatusOr<tl::api::PassKey> key = tl::api::PassKey::FromPem(rest);
      FUZZ_CHECK(key.ok() || absl::IsInvalidArgument(key.status()));
      if (key.ok()) FUZZ_CHECK(key->public_key().size() == 32 && !key->kid().empty());
      break;
    }
  }
  return 0;
}
