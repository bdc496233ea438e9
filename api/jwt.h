// JSON Web Tokens, HS256 only (RFC 7519 / 7515). The api authenticates users
// with the `sub` claim; `role: "admin"` opens the admin routes, `role: "shop"`
// the shop's (confirmations). Any other
// algorithm, "none" included, is refused: accepting the token's own choice of
// algorithm is the classic JWT hole.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace tl::api {

struct Claims {
  std::string sub;
  bool admin = false;
  int64_t exp = 0;    // unix seconds
  bool shop = false;  // role "shop": may confirm held wins (POST .../confirmations)
};

// Checks signature, algorithm, expiry (against now_s, with no leeway) and
// `nbf`; returns the claims. Every failure is Unauthenticated with a message
// that says what was wrong (never echoing the token).
absl::StatusOr<Claims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s);

// Mints a token (ticketctl token, tests).
std::string MintJwt(const Claims& claims, std::string_view secret);

std::string Base64UrlEncode(std::string_view data);
bool Base64UrlDecode(std::string_view in, std::string* out);

}  // namespace tl::api
