// `ticketctl pass verify`: check an admission pass (api/pass.h) the way a
// shop would, against the api's JWKS (a file, or fetched from
// /.well-known/jwks.json). Exit 0 valid (the claims printed as JSON), 3 a
// pass that fails a check (named), 2 usage, 1 the JWKS could not be fetched.
#include "api/pass.h"

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

constexpr size_t kJwksBytesMax = 1 << 20;

struct PassArgs {
  std::string pass, jwks_file, jwks_url;
};

absl::StatusOr<std::string> FetchJwks(const std::string& url) {
  // scheme://host[:port]/path
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return absl::InvalidArgumentError("--jwks-url wants http://host[:port]/path");
  const size_t path_at = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  httplib::Client client(origin);
  if (!client.is_valid())
    return absl::InvalidArgumentError(absl::StrCat("--jwks-url: cannot use ", origin));
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  // Read no further than the limit: a server answering gigabytes is cut off.
  std::string body;
  bool too_big = false;
  httplib::Result r = client.Get(path, [&](const char* data, size_t len) {
    body.append(data, len);
    too_big = body.size() > kJwksBytesMax;
    return !too_big;
  });
  if (too_big) return absl::UnavailableError(absl::StrCat(url, " is larger than 1 MiB"));
  if (!r)
    return absl::UnavailableError(
        absl::StrCat("cannot fetch ", url, ": ", httplib::to_string(r.error())));
  if (r->status != 200)
    return absl::UnavailableError(absl::StrCat("cannot fetch ", url, ": HTTP ", r->status));
  return body;
}

int Run(const PassArgs& a) {
  std::string text;
  if (!a.jwks_file.empty()) {
    std::ifstream in(a.jwks_file);
    if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", a.jwks_file)));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    absl::StatusOr<std::string> fetched = FetchJwks(a.jwks_url);
    if (!fetched.ok()) return Fail(fetched.status());
    text = *std::move(fetched);
  }
  const nlohmann::json jwks = nlohmann::json::parse(text, nullptr, false);
  if (jwks.is_discarded()) return Fail(absl::InvalidArgumentError("the JWKS is not JSON"));
  absl::StatusOr<nlohmann::json> claims =
      api::VerifyPass(a.pass, jwks, absl::ToUnixSeconds(absl::Now()));
  if (absl::IsPermissionDenied(claims.status())) {
    std::fprintf(stderr, "ticketctl: %s\n", std::string(claims.status().message()).c_str());
    return app::kExitData;
  }
  if (!claims.ok()) return Fail(claims.status());
  std::printf("%s\n", claims->dump().c_str());
  return app::kExitOk;
}

}  // namespace

Verb AddPass(CLI::App& app, const Global&) {
  auto a = std::make_shared<PassArgs>();
  CLI::App* pass = app.add_subcommand("pass", "Admission passes (what a winner shows a shop)");
  pass->require_subcommand(1);
  CLI::App* verify = pass->add_subcommand(
      "verify",
      "Check a pass against a JWKS: alg EdDSA, a known kid, the signature, exp, and iat not more "
      "than 60 s ahead; print its claims as JSON. Exit 0 valid, 3 invalid (the failed check on "
      "stderr), 2 usage");
  verify->add_option("PASS", a->pass, "The pass (a compact JWT)")->required();
  CLI::Option* file = verify->add_option("--jwks", a->jwks_file, "A JWKS file");
  CLI::Option* url = verify->add_option(
      "--jwks-url", a->jwks_url, "Fetch the JWKS, e.g. http://HOST:PORT/.well-known/jwks.json");
  file->excludes(url);
  verify->callback([file, url] {
    if (file->count() + url->count() == 0) throw CLI::RequiredError("--jwks or --jwks-url");
  });
  return {pass, [a] { return Run(*a); }};
}

}  // namespace tl::ctl
