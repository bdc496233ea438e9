// `ticketctl token`: mint JWTs (HS256) from the api's secret, loaded the way
// ticketd loads it.
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/jwt.h"
#include "engine/core/limits.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

struct TokenArgs {
  std::string user, jwt_secret_file;
  bool admin = false, shop = false;
  int64_t ttl_s = 3600;
  uint64_t count = 0;
};

int Run(const Global& g, const TokenArgs& a) {
  absl::StatusOr<std::string> secret = JwtSecret(g, a.jwt_secret_file);
  if (!secret.ok()) return Fail(secret.status());
  if (absl::Status st = ValidateUserId(a.user, Limits()); !st.ok()) return Fail(st);
  if (a.admin && a.shop)
    return Fail(absl::InvalidArgumentError("--admin and --shop: pick one role"));
  api::Claims claims{a.user, a.admin, absl::ToUnixSeconds(absl::Now()) + a.ttl_s};
  claims.shop = a.shop;
  if (a.count == 0) {
    std::printf("%s\n", api::MintJwt(claims, *secret).c_str());
    return app::kExitOk;
  }
  for (uint64_t i = 0; i < a.count; ++i) {
    claims.sub = absl::StrCat(a.user, "-", i);
    std::printf("%s\n", api::MintJwt(claims, *secret).c_str());
  }
  return app::kExitOk;
}

}  // namespace

Verb AddToken(CLI::App& app, const Global& g) {
  auto a = std::make_shared<TokenArgs>();
  CLI::App* token = app.add_subcommand(
      "token",
      "Mint a JWT (HS256) from the api's secret: --jwt-secret-file, else $TICKETD_JWT_SECRET, "
      "else (with --dev) the secret of ticketd --dev");
  token->add_option("--user", a->user, "The user (the token's sub)")->required();
  token->add_flag("--admin", a->admin, "Add role admin (admin routes)");
  token->add_flag("--shop", a->shop, "Add role shop (confirm held wins: POST .../confirmations)");
  token->add_option("--ttl-s", a->ttl_s, "Lifetime in seconds")->capture_default_str();
  token->add_option("--jwt-secret-file", a->jwt_secret_file, "File holding the JWT secret");
  token->add_option("--count", a->count,
                    "Mint this many tokens, one per line, for users <user>-0 .. <user>-(N-1) "
                    "(load tests)");
  return {token, [a, &g] { return Run(g, *a); }};
}

}  // namespace tl::ctl
