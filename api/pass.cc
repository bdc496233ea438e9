#include "api/pass.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "api/jwt.h"

namespace tl::api {
namespace {

using json = nlohmann::json;

constexpr size_t kPassBytesMax = 4096;
constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SigBytes = 64;

std::shared_ptr<void> Own(EVP_PKEY* k) {
  return std::shared_ptr<void>(k, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
}

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

bool VerifyEd25519(std::string_view pub, std::string_view msg, std::string_view sig) {
  if (pub.size() != kEd25519KeyBytes || sig.size() != kEd25519SigBytes) return false;
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(pub.data()), pub.size());
  if (k == nullptr) return false;
  auto key = Own(k);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

absl::Status Bad(std::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("invalid pass: ", std::string(why)));
}

bool Seconds(const json& v, int64_t* out) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return false;
    *out = v.get<int64_t>();
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<PassKey> PassKey::FromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (k == nullptr) return absl::InvalidArgumentError("the pass key is not a PEM private key");
  auto owned = Own(k);
  if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519)
    return absl::InvalidArgumentError(
        "the pass key is not an Ed25519 key (openssl genpkey -algorithm ed25519)");
  PassKey out;
  out.pkey_ = std::move(owned);
  unsigned char pub[kEd25519KeyBytes];
  size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != kEd25519KeyBytes)
    return absl::InvalidArgumentError("the pass key has no Ed25519 public key");
  out.public_.assign(reinterpret_cast<const char*>(pub), len);
  out.kid_ = Base64UrlEncode(Sha256(out.public_).substr(0, 8));
  return out;
}

PassKey PassKey::Dev() {
  const std::string seed = Sha256("ticketledger/dev-pass-key/v1");
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  PassKey out;
  out.pkey_ = Own(k);
  unsigned char pub[kEd25519KeyBytes];
  size_t len = sizeof pub;
  EVP_PKEY_get_raw_public_key(k, pub, &len);
  out.public_.assign(reinterpret_cast<const char*>(pub), len);
  out.kid_ = Base64UrlEncode(Sha256(out.public_).substr(0, 8));
  return out;
}

json PassKey::Jwks() const {
  return {{"keys", json::array({{{"kty", "OKP"},
                                 {"crv", "Ed25519"},
                                 {"x", Base64UrlEncode(public_)},
                                 {"kid", kid_},
                                 {"alg", "EdDSA"},
                                 {"use", "sig"}}})}};
}

std::string PassKey::Sign(const PassClaims& c) const {
  const json header = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", kid_}};
  const json payload = {{"iss", c.iss},
                        {"sub", c.sub},
                        {"campaign", c.campaign},
                        {"position", c.position},
                        {"jti", c.jti},
                        {"iat", c.iat},
                        {"exp", c.exp}};
  const std::string signing =
      Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
  unsigned char sig[kEd25519SigBytes];
  size_t len = sizeof sig;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  // Ed25519 signs the message itself: no digest (NULL md), one shot.
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                         static_cast<EVP_PKEY*>(pkey_.get())) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(signing.data()),
                     signing.size()) != 1)
    return "";  // only out of memory: an empty pass is never valid
  return signing + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), len));
}

std::string PassSigner::Mint(std::string_view campaign, uint64_t position, std::string_view user,
                             int64_t now_s, int64_t exp_s) const {
  PassClaims c;
  c.iss = issuer;
  c.sub = std::string(user);
  c.campaign = std::string(campaign);
  c.position = position;
  c.jti = absl::StrCat(std::string(campaign), ":", position);
  c.iat = now_s;
  c.exp = exp_s != 0 ? exp_s : now_s + ttl_s;
  return key.Sign(c);
}

absl::StatusOr<json> VerifyPass(std::string_view pass, const json& jwks, int64_t now_s) {
  auto keys = jwks.is_object() ? jwks.find("keys") : jwks.end();
  if (!jwks.is_object() || keys == jwks.end() || !keys->is_array())
    return absl::InvalidArgumentError("the JWKS is not an object with a \"keys\" array");
  if (pass.size() > kPassBytesMax) return Bad("longer than 4096 bytes");
  const size_t dot1 = pass.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : pass.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || pass.find('.', dot2 + 1) != std::string_view::npos)
    return Bad("not three dot-separated parts");
  std::string header_raw, payload_raw, sig;
  if (!Base64UrlDecode(pass.substr(0, dot1), &header_raw) ||
      !Base64UrlDecode(pass.substr(dot1 + 1, dot2 - dot1 - 1), &payload_raw) ||
      !Base64UrlDecode(pass.substr(dot2 + 1), &sig))
    return Bad("a part is not base64url");
  const json header = json::parse(header_raw, nullptr, false);
  if (!header.is_object()) return Bad("header is not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || *alg != "EdDSA")
    return Bad("algorithm must be EdDSA");
  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) return Bad("no kid in the header");
  std::string pub;
  for (const json& k : *keys) {
    if (!k.is_object() || k.value("kid", json()) != *kid) continue;
    if (k.value("kty", json()) != "OKP" || k.value("crv", json()) != "Ed25519")
      return Bad("the JWKS key of this kid is not an Ed25519 key");
    auto x = k.find("x");
    if (x == k.end() || !x->is_string() || !Base64UrlDecode(x->get<std::string>(), &pub) ||
        pub.size() != kEd25519KeyBytes)
      return Bad("the JWKS key of this kid has no valid x");
    break;
  }
  if (pub.empty()) return Bad(absl::StrCat("unknown kid ", kid->dump()));
  if (!VerifyEd25519(pub, pass.substr(0, dot2), sig)) return Bad("bad signature");
  json payload = json::parse(payload_raw, nullptr, false);
  if (!payload.is_object()) return Bad("payload is not a JSON object");
  int64_t exp = 0, iat = 0;
  auto e = payload.find("exp");
  if (e == payload.end() || !Seconds(*e, &exp)) return Bad("no exp claim");
  if (exp <= now_s) return Bad(absl::StrCat("expired (exp ", exp, ", now ", now_s, ")"));
  auto i = payload.find("iat");
  if (i != payload.end()) {
    if (!Seconds(*i, &iat)) return Bad("iat claim is not a number");
    if (iat > now_s + kPassIatLeewayS)
      return Bad(absl::StrCat("issued in the future (iat ", iat, ", now ", now_s, ")"));
  }
  return payload;
}

}  // namespace tl::api
