// The shop's route: confirm a held win after payment (POST
// /v1/campaigns/{id}/confirmations). A token with role shop or admin, an
// Idempotency-Key (a confirmation follows a payment: it must happen once,
// however often the shop retries), and the pass the winner presented — or
// the user and the pass id. The engine decides (ConfirmEntry): confirmed, or
// refused because the hold expired, the entry is confirmed already, the pass
// is not this entry's, the entry is no standing win, or there is no entry.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/jwt.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

namespace {

// A pass id is "<campaign>:<position>": a campaign id and 20 digits at most.
constexpr size_t kPassIdBytesMax = 128;

// The pass's exp claim, read before the signature is checked (only to check
// the signature at a time the pass was valid: see below); 0 if none.
int64_t UnverifiedExp(std::string_view pass) {
  const size_t dot1 = pass.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : pass.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return 0;
  std::string raw;
  if (!Base64UrlDecode(pass.substr(dot1 + 1, dot2 - dot1 - 1), &raw)) return 0;
  const json payload = json::parse(raw, nullptr, false);
  if (!payload.is_object()) return 0;
  auto exp = payload.find("exp");
  return exp != payload.end() && exp->is_number_integer() ? exp->get<int64_t>() : 0;
}

}  // namespace

void Api::PostConfirmation(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  if (!c->claims.admin && !c->claims.shop)
    return c->Error(403, "forbidden", "confirming a win needs a token with role shop or admin");
  if (c->req.Header("Idempotency-Key").empty())
    return c->Error(400, "missing_idempotency_key",
                    "header 'Idempotency-Key' is required: a confirmation follows a payment and "
                    "must happen once, however often it is retried");
  json b;
  if (!ReadBody(c, &b)) return;
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() != "pass" && it.key() != "user" && it.key() != "pass_id")
      return c->Error(400, "unknown_field", absl::StrCat("unknown field '", it.key(), "'"));
  }
  std::string user, pass_id;
  if (b.contains("pass")) {
    if (b.contains("user") || b.contains("pass_id"))
      return c->Error(400, "invalid_field",
                      "give either field 'pass' or fields 'user' and 'pass_id', not both");
    if (!b["pass"].is_string())
      return c->Error(400, "invalid_field", "field 'pass' must be a string (the pass JWT)");
    if (!options_.pass)
      return c->Error(422, "invalid_pass",
                      "this server signs no passes: name 'user' and 'pass_id'");
    const std::string pass = b["pass"].get<std::string>();
    // The signature and the claims are checked here; the expiry is not: a
    // held win's pass expires with its hold, and whether the hold has passed
    // is the engine's decision (409 hold_expired), on the command's time.
    const int64_t now_s = absl::ToUnixSeconds(absl::Now());
    const int64_t exp = UnverifiedExp(pass);
    absl::StatusOr<json> claims =
        VerifyPass(pass, options_.pass->key.Jwks(), exp > 0 ? std::min(now_s, exp - 1) : now_s);
    if (!claims.ok())
      return c->Error(422, "invalid_pass", absl::StrCat("pass: ", claims.status().message()));
    auto str = [&](const char* name) {
      auto it = claims->find(name);
      return it != claims->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (str("campaign") != c->campaign)
      return c->Error(422, "pass_mismatch",
                      absl::StrCat("this pass is for campaign '", str("campaign").substr(0, 64),
                                   "', not '", c->campaign, "'"));
    user = str("sub");
    pass_id = str("jti");
    if (user.empty() || pass_id.empty())
      return c->Error(422, "invalid_pass", "pass: no sub or no jti claim");
  } else {
    if (!b.contains("user") || !b["user"].is_string() || !b.contains("pass_id") ||
        !b["pass_id"].is_string())
      return c->Error(400, "missing_field",
                      "field 'pass' (the pass JWT), or fields 'user' and 'pass_id' (strings), "
                      "is required");
    user = b["user"].get<std::string>();
    pass_id = b["pass_id"].get<std::string>();
  }
  if (absl::Status st = ValidateUserId(user, backend_->limits()); !st.ok())
    return c->Error(400, "invalid_user_id", st.message());
  if (pass_id.empty() || pass_id.size() > kPassIdBytesMax)
    return c->Error(400, "invalid_field",
                    absl::StrCat("field 'pass_id' must be 1..", kPassIdBytesMax,
                                 " bytes (\"<campaign>:<position>\")"));
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  cmd.mutable_confirm_entry()->set_user_id(user);
  cmd.mutable_confirm_entry()->set_pass_id(pass_id);
  Submit(c, std::move(cmd), std::max(PreferWait(c), 5), 200);
}

}  // namespace tl::api
