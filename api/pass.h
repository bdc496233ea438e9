// Admission passes: what the api hands a winner so a shop can check, offline,
// that this user won this campaign. A pass is a compact JWT (RFC 7519)
// signed with Ed25519 (RFC 8037, "alg":"EdDSA"); the public key is served as
// a JWKS at /.well-known/jwks.json and `ticketctl pass verify` checks a pass
// against it. Claims: iss, sub (the user), campaign, position, jti (the pass
// id, "<campaign>:<position>", stable for the entry), iat, exp. Until holds
// exist exp is the time of minting + the pass TTL; with holds it becomes the
// hold deadline (PassSigner::Mint takes it as an argument for that reason).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tl::api {

inline constexpr int64_t kPassIatLeewayS = 60;  // iat may be this far in the future

struct PassClaims {
  std::string iss, sub, campaign, jti;
  uint64_t position = 0;
  int64_t iat = 0, exp = 0;  // unix seconds
};

// An Ed25519 key pair (OpenSSL 3). Copies share the key.
class PassKey {
 public:
  // A PEM PKCS#8 private key (`openssl genpkey -algorithm ed25519`).
  // INVALID_ARGUMENT, never echoing the text, when it is not one.
  static absl::StatusOr<PassKey> FromPem(std::string_view pem);
  // The development key: the raw private key SHA-256("ticketledger/dev-pass-key/v1"),
  // the same on every start (passes survive a dev restart).
  static PassKey Dev();

  // The raw 32-byte public key and its key id (base64url of the first 8
  // bytes of SHA-256(public key)).
  const std::string& public_key() const { return public_; }
  const std::string& kid() const { return kid_; }
  // {"keys":[{"kty":"OKP","crv":"Ed25519","x":..,"kid":..,"alg":"EdDSA","use":"sig"}]}
  nlohmann::json Jwks() const;
  // The compact JWT of `claims`, signed.
  std::string Sign(const PassClaims& claims) const;

 private:
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  std::string public_, kid_;
};

// What ticketd mints passes with: the key, the issuer and the lifetime.
struct PassSigner {
  PassKey key;
  std::string issuer = "ticketledger";
  int64_t ttl_s = 900;
  // A pass for `user`'s won entry at `position`; exp = `exp_s` when not 0
  // (the hold deadline, once holds exist), else now_s + ttl_s.
  std::string Mint(std::string_view campaign, uint64_t position, std::string_view user,
                   int64_t now_s, int64_t exp_s = 0) const;
};

// Checks `pass` against `jwks` ({"keys":[...]}) at now_s: alg EdDSA, a kid
// present in the JWKS (an OKP Ed25519 key), the signature, exp > now and iat
// no more than kPassIatLeewayS ahead of now. Returns the claims object.
// A pass that fails a check: PERMISSION_DENIED naming the check. A JWKS that
// is not one: INVALID_ARGUMENT.
absl::StatusOr<nlohmann::json> VerifyPass(std::string_view pass, const nlohmann::json& jwks,
                                          int64_t now_s);

}  // namespace tl::api
