// End to end: a winner's admission pass, checked the way a shop would, with
// `ticketctl pass verify` against the JWKS a real ticketd serves.
#include "api/pass.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// Runs ticketctl with `args` (no shell quoting needed: passes are base64url
// and dots); stdout and stderr together.
ShellRun Ctl(const std::string& args) {
  return RunShell(std::string(TL_TICKETCTL) + " " + args + " 2>&1");
}

TEST(Api, PassAWinnerGetsAPassTheShopVerifiesAndALoserGetsNone) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "0", "--tick-ms", "50"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  auto r =
      c->Post("/v1/admin/campaigns", Auth(Token("ops", true)),
              json{{"id", "drop"}, {"stock", 1}, {"win_bps", 10000}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");

  // The winner: the Prefer: wait answer carries the pass...
  r = c->Post("/v1/campaigns/drop/entries", Auth(Token("alice"), "wait=10"), "",
              "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  json won = Body(r);
  ASSERT_EQ(won["status"], "won") << won;
  ASSERT_TRUE(won["pass"].is_string()) << won;
  // ...and so does the entry.
  json me = Body(c->Get("/v1/campaigns/drop/entries/me", Auth(Token("alice"))));
  ASSERT_EQ(me["status"], "won") << me;
  ASSERT_TRUE(me["pass"].is_string()) << me;
  const std::string pass = me["pass"];

  // The loser (sold out) never gets one, neither answer.
  r = c->Post("/v1/campaigns/drop/entries", Auth(Token("bob"), "wait=10"), "", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(Body(r)["status"], "sold_out");
  EXPECT_FALSE(Body(r).contains("pass")) << r->body;
  json bob = Body(c->Get("/v1/campaigns/drop/entries/me", Auth(Token("bob"))));
  EXPECT_EQ(bob["status"], "sold_out");
  EXPECT_FALSE(bob.contains("pass")) << bob;

  // The JWKS is public and cacheable.
  r = c->Get("/.well-known/jwks.json");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_NE(r->get_header_value("Cache-Control").find("max-age"), std::string::npos);
  json jwks = Body(r);
  ASSERT_EQ(jwks["keys"].size(), 1u);
  EXPECT_EQ(jwks["keys"][0]["crv"], "Ed25519");
  EXPECT_EQ(jwks["keys"][0]["kid"], api::PassKey::FromPem(kPassKeyPem)->kid());

  const std::string url =
      "--jwks-url http://127.0.0.1:" + std::to_string(d.port()) + "/.well-known/jwks.json";
  ShellRun ok = Ctl("pass verify " + pass + " " + url);
  ASSERT_EQ(ok.code, 0) << ok.out;
  json claims = json::parse(ok.out, nullptr, false);
  EXPECT_EQ(claims["iss"], "ticketledger");
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["campaign"], "drop");
  EXPECT_EQ(claims["position"], me["position"]);
  EXPECT_EQ(claims["jti"], "drop:" + std::to_string(me["position"].get<uint64_t>()));
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 900);

  // A tampered pass: alice's signature on a payload that names bob.
  const size_t d1 = pass.find('.'), d2 = pass.rfind('.');
  claims["sub"] = "bob";
  const std::string tampered =
      pass.substr(0, d1 + 1) + api::Base64UrlEncode(claims.dump()) + pass.substr(d2);
  ShellRun bad = Ctl("pass verify " + tampered + " " + url);
  EXPECT_EQ(bad.code, 3) << bad.out;
  EXPECT_NE(bad.out.find("bad signature"), std::string::npos) << bad.out;

  // The JWKS from a file works the same; no JWKS at all is a usage error.
  const std::string file = dir.Sub("jwks.json");
  { std::ofstream(file) << jwks.dump(); }
  EXPECT_EQ(Ctl("pass verify " + pass + " --jwks " + file).code, 0);
  EXPECT_EQ(Ctl("pass verify " + pass).code, 2);
}

// The live channel is per user: a winner's final message carries the pass.
TEST(Api, PassTheWinnersFinalLiveMessageCarriesThePass) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "0", "--tick-ms", "50"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  auto r = c->Post(
      "/v1/admin/campaigns", Auth(Token("ops", true)),
      json{{"id", "slow"}, {"stock", 5}, {"win_bps", 10000}, {"admission_rate_per_s", 2}}.dump(),
      "application/json");
  ASSERT_TRUE(r && r->status == 201);
  for (const char* u : {"s0", "s1", "s2"}) {
    r = c->Post("/v1/campaigns/slow/entries", Auth(Token(u)), "", "application/json");
    ASSERT_TRUE(r && r->status == 202);
  }
  std::string stream;
  r = d.Client()->Get("/v1/campaigns/slow/events", Auth(Token("s2")),
                      [&](const char* data, size_t len) {
                        stream.append(data, len);
                        return true;
                      });
  ASSERT_TRUE(r && r->status == 200);
  const size_t won = stream.rfind("data: {");
  ASSERT_NE(won, std::string::npos) << stream;
  json last = json::parse(stream.substr(won + 6, stream.find('\n', won) - won - 6), nullptr, false);
  ASSERT_EQ(last["status"], "won") << stream;
  ASSERT_TRUE(last["pass"].is_string()) << stream;
  absl::StatusOr<json> claims = api::VerifyPass(
      last["pass"].get<std::string>(), api::PassKey::FromPem(kPassKeyPem)->Jwks(), time(nullptr));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ((*claims)["sub"], "s2");
  // Earlier messages (queued) had none.
  EXPECT_EQ(stream.find("\"pass\""), stream.rfind("\"pass\""));
}

}  // namespace
}  // namespace tl::testing
