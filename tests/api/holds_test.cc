// Holds, confirmation, the at-close draw with entropy, the waitlist and
// receipts over HTTP (issue 14): the api's handlers on a real engine (the
// embedded log in a temporary directory, the waiting-room ticker on), plain
// Request values in, Response values out.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/jwt.h"
#include "api/pass.h"
#include "api/router.h"
#include "engine/core/hash.h"
#include "engine/core/merkle.h"
#include "engine/runtime/node.h"
#include "ops/app/backends.h"
#include "tests/support/api_on_node.h"
#include "tests/support/call_handler.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

class Holds : public ApiOnNode {};

TEST_F(Holds, CreateTakesHoldDrawAndEntropyAndRefusesWhatIsWrong) {
  http::Headers ops = As("ops", true);
  auto create = [&](const json& spec) {
    return Call("POST", "/v1/admin/campaigns", ops, spec.dump());
  };
  json base = {{"id", "x"}, {"stock", 1}, {"win_bps", 10000}};
  struct Case {
    json extra;
    int status;
    std::string code, names;
  };
  for (const Case& k : std::vector<Case>{
           {{{"hold_s", 604801}}, 400, "invalid_field", "hold_s"},
           {{{"hold_s", -1}}, 400, "invalid_field", "hold_s"},
           {{{"draw", "later"}}, 400, "invalid_field", "draw"},
           {{{"entropy_source", std::string(201, 'e')}}, 400, "invalid_field", "entropy_source"},
           {{{"draw", "at_close"}, {"admission_rate_per_s", 5}},
            422,
            "invalid_combination",
            "admission_rate_per_s"},
           {{{"entropy_source", "drand round 1"}}, 422, "invalid_combination", "entropy_source"},
       }) {
    json spec = base;
    spec.update(k.extra);
    http::Response r = create(spec);
    SCOPED_TRACE(spec.dump());
    EXPECT_EQ(r.status, k.status) << r.body;
    EXPECT_EQ(Body(r)["error"]["code"], k.code);
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(k.names), std::string::npos);
  }
  Create({{"id", "ac"},
          {"stock", 2},
          {"win_bps", 10000},
          {"hold_s", 60},
          {"draw", "at_close"},
          {"entropy_source", "drand quicknet round 1234567"}});
  json c = Campaign("ac");
  EXPECT_EQ(c["hold_s"], 60);
  EXPECT_EQ(c["draw"], "at_close");
  EXPECT_EQ(c["entropy_source"], "drand quicknet round 1234567");
  for (const char* k : {"confirmed", "expired", "waitlisted", "promoted"}) EXPECT_EQ(c[k], 0) << k;
  EXPECT_FALSE(c.contains("merkle_root"));
  Create({{"id", "plain"}, {"stock", 1}, {"win_bps", 10000}});
  c = Campaign("plain");
  EXPECT_EQ(c["hold_s"], 0);
  EXPECT_EQ(c["draw"], "instant");
}

TEST_F(Holds, TheShopConfirmsAHeldWinOnceWithThePassFromEntriesMe) {
  Create({{"id", "c1"}, {"stock", 2}, {"win_bps", 10000}, {"hold_s", 600}});
  const uint64_t before_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  json won = Enter("c1", "alice");
  EXPECT_EQ(won["status"], "won") << won;
  json me = Me("c1", "alice");
  ASSERT_EQ(me["status"], "won") << me;
  ASSERT_TRUE(me.contains("hold_until_ms")) << me;
  const uint64_t hold = me["hold_until_ms"];
  EXPECT_GE(hold, before_ms + 600'000);
  EXPECT_LE(hold, before_ms + 610'000);
  EXPECT_EQ(won["hold_until_ms"], hold);
  ASSERT_TRUE(me.contains("pass")) << me;
  const std::string pass = me["pass"];
  // The pass expires with the hold.
  absl::StatusOr<json> claims = api::VerifyPass(pass, api::PassKey::Dev().Jwks(), time(nullptr));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ((*claims)["exp"], static_cast<int64_t>(hold / 1000));
  EXPECT_EQ((*claims)["jti"], "c1:1");

  // A user token may not confirm; no Idempotency-Key is refused.
  http::Headers user = As("alice");
  user.emplace_back("Idempotency-Key", "k0");
  http::Response r =
      Call("POST", "/v1/campaigns/c1/confirmations", user, json{{"pass", pass}}.dump());
  EXPECT_EQ(r.status, 403) << r.body;
  r = Call("POST", "/v1/campaigns/c1/confirmations", Shop(""), json{{"pass", pass}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "missing_idempotency_key");
  EXPECT_NE(r.body.find("Idempotency-Key"), std::string::npos);
  // A forged pass, a pass id that is not the entry's, a body that names neither.
  r = Confirm("c1", "k-forged", {{"pass", pass.substr(0, pass.size() - 4) + "AAAA"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "invalid_pass");
  r = Confirm("c1", "k-mismatch", {{"user", "alice"}, {"pass_id", "c1:99"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "pass_mismatch");
  r = Confirm("c1", "k-empty", json::object());
  EXPECT_EQ(r.status, 400) << r.body;
  r = Confirm("c1", "k-nobody", {{"user", "nobody"}, {"pass_id", "c1:1"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "not_entered");

  // Eight identical confirmations at once under one key: one EntryConfirmed,
  // the same answer for all.
  std::vector<std::future<http::Response>> calls;
  for (int i = 0; i < 8; ++i)
    calls.push_back(std::async(std::launch::async, [&] {
      return Confirm("c1", "pay-1", {{"pass", pass}});
    }));
  std::set<std::string> answers;
  for (auto& f : calls) {
    http::Response x = f.get();
    EXPECT_EQ(x.status, 200) << x.body;
    json b = Body(x);
    b.erase("request");  // the reference of each request's own command
    answers.insert(b.dump());
  }
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(json::parse(*answers.begin()), json({{"campaign", "c1"},
                                                 {"user", "alice"},
                                                 {"position", 1},
                                                 {"status", "confirmed"},
                                                 {"pass_id", "c1:1"}}));
  EXPECT_EQ(Campaign("c1")["confirmed"], 1);
  me = Me("c1", "alice");
  EXPECT_EQ(me["status"], "confirmed");
  EXPECT_FALSE(me.contains("hold_until_ms"));
  EXPECT_FALSE(me.contains("pass"));
  // Another key for the same pass: already confirmed.
  r = Confirm("c1", "pay-2", {{"pass", pass}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "already_confirmed");
  // The same key with another body: refused.
  r = Confirm("c1", "pay-1", {{"user", "alice"}, {"pass_id", "c1:1"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "idempotency_key_reused");
  // A pass of another campaign.
  Create({{"id", "c2"}, {"stock", 1}, {"win_bps", 10000}, {"hold_s", 600}});
  r = Confirm("c2", "k-other", {{"pass", pass}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "pass_mismatch");
}

TEST_F(Holds, AHoldThatPassesExpiresAndCannotBeConfirmed) {
  Create({{"id", "c1"}, {"stock", 1}, {"win_bps", 10000}, {"hold_s", 1}});
  Enter("c1", "alice");
  json me = Me("c1", "alice");
  ASSERT_EQ(me["status"], "won") << me;
  EXPECT_TRUE(me.contains("hold_until_ms")) << me;
  const std::string pass = me["pass"];
  // The ticker ticks the campaign once the deadline passed: HoldExpired.
  me = AwaitStatus("c1", "alice", "expired");
  EXPECT_EQ(me["status"], "expired") << me;
  EXPECT_FALSE(me.contains("hold_until_ms"));
  EXPECT_FALSE(me.contains("pass"));
  http::Response r = Confirm("c1", "late", {{"pass", pass}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "hold_expired");
  json c = Campaign("c1");
  EXPECT_EQ(c["expired"], 1);
  EXPECT_EQ(c["stock_left"], 1);  // the unit went back: bob can win it
  EXPECT_EQ(Enter("c1", "bob")["status"], "won");
}

TEST_F(Holds, AtCloseDrawsWithTheEntropyAndTheWaitlistRollsForward) {
  Create({{"id", "ac"},
          {"stock", 1},
          {"win_bps", 10000},
          {"hold_s", 600},
          {"draw", "at_close"},
          {"entropy_source", "test beacon round 7"}});
  const std::vector<std::string> users = {"u1", "u2", "u3", "u4"};
  for (const std::string& u : users) {
    http::Response r = Call("POST", "/v1/campaigns/ac/entries", As(u));
    EXPECT_EQ(r.status, 202) << r.body;
  }
  for (const std::string& u : users) EXPECT_EQ(AwaitStatus("ac", u, "queued")["status"], "queued");
  // The receipt exists only after close.
  http::Response r = Call("GET", "/v1/campaigns/ac/entries/me/proof", As("u1"));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "not_closed");

  http::Headers ops = As("ops", true);
  r = Call("POST", "/v1/admin/campaigns/ac/close", ops);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "missing_entropy_value");
  EXPECT_NE(r.body.find("test beacon round 7"), std::string::npos);
  r = Call("POST", "/v1/admin/campaigns/ac/close", ops, json{{"entropy_value", ""}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/admin/campaigns/ac/close", ops, json{{"entropy_value", "beacon-7"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json events = Body(r)["events"];
  ASSERT_EQ(events.size(), 1 + users.size()) << r.body;  // CampaignClosed, one draw per entry
  EXPECT_EQ(events[0]["campaign_closed"]["entropy_value"], "beacon-7");

  json c = Campaign("ac");
  EXPECT_EQ(c["status"], "closed");
  EXPECT_EQ(c["won"], 1);
  EXPECT_EQ(c["waitlisted"], 3);
  EXPECT_EQ(c["entropy_value"], "beacon-7");
  EXPECT_EQ(c["merkle_leaves"], users.size());
  ASSERT_TRUE(c.contains("merkle_root"));
  std::string winner;
  std::map<uint64_t, std::string> by_rank;
  for (const std::string& u : users) {
    json me = Me("ac", u);
    if (me["status"] == "won") {
      winner = u;
      EXPECT_TRUE(me.contains("hold_until_ms")) << me;
      EXPECT_TRUE(me.contains("pass")) << me;
    } else {
      ASSERT_EQ(me["status"], "waitlisted") << me;
      by_rank[me["waitlist_rank"].get<uint64_t>()] = u;
    }
  }
  ASSERT_FALSE(winner.empty());
  ASSERT_EQ(by_rank.size(), 3u);
  EXPECT_EQ(by_rank.begin()->first, 1u);
  EXPECT_EQ(by_rank.rbegin()->first, 3u);

  // The live channel: the held win's countdown (and its pass) and the
  // waitlisted users' ranks, none of them final.
  auto winner_live = Watch("ac", winner);
  auto head_live = Watch("ac", by_rank[1]);
  auto last_live = Watch("ac", by_rank[3]);
  auto held = winner_live->Await([](const json& j) { return j.value("status", "") == "won"; });
  ASSERT_TRUE(held);
  EXPECT_TRUE(held->first.contains("hold_until_ms")) << held->first;
  EXPECT_TRUE(held->first.contains("pass")) << held->first;
  EXPECT_FALSE(held->second);
  auto third = last_live->Await([](const json& j) { return j.value("waitlist_rank", 0) == 3; });
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->second);

  // The winner gives the unit back: the waitlist's head is promoted, the
  // others move up one.
  http::Headers cancel = As(winner);
  cancel.emplace_back("Prefer", "wait=5");
  r = Call("DELETE", "/v1/campaigns/ac/entries/me", cancel);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"], "cancelled") << r.body;
  json head = Me("ac", by_rank[1]);
  EXPECT_EQ(head["status"], "won") << head;
  EXPECT_TRUE(head.contains("hold_until_ms")) << head;
  EXPECT_TRUE(head.contains("pass")) << head;
  EXPECT_EQ(Me("ac", by_rank[2])["waitlist_rank"], 1);
  EXPECT_EQ(Me("ac", by_rank[3])["waitlist_rank"], 2);
  EXPECT_EQ(Campaign("ac")["promoted"], 1);
  // ... and the live channel says so: the promotion moved every waitlisted
  // user's rank; the winner's stream ends at cancelled.
  auto moved = last_live->Await([](const json& j) { return j.value("waitlist_rank", 0) == 2; });
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->first["status"], "waitlisted");
  auto promoted = head_live->Await([](const json& j) { return j.value("status", "") == "won"; });
  ASSERT_TRUE(promoted);
  EXPECT_TRUE(promoted->first.contains("hold_until_ms")) << promoted->first;
  EXPECT_TRUE(promoted->first.contains("pass")) << promoted->first;
  EXPECT_FALSE(promoted->second);
  auto gone =
      winner_live->Await([](const json& j) { return j.value("status", "") == "cancelled"; });
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->second);
  // The promoted winner's pass confirms.
  r = Confirm("ac", "pay-head", {{"pass", head["pass"]}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["user"], by_rank[1]);
  // A waitlisted entry is not confirmable.
  json third_me = Me("ac", by_rank[3]);
  r = Confirm("ac", "pay-third",
              {{"user", by_rank[3]},
               {"pass_id", "ac:" + std::to_string(third_me["position"].get<uint64_t>())}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "not_confirmable");

  // Receipts: each entry's proof verifies against the campaign's root; a
  // proof does not verify another user's leaf.
  std::string root;
  ASSERT_TRUE(FromHex(c["merkle_root"].get<std::string>(), &root));
  Hash root_hash;
  std::copy(root.begin(), root.end(), root_hash.begin());
  std::map<std::string, json> proofs;
  for (const std::string& u : users) {
    r = Call("GET", "/v1/campaigns/ac/entries/me/proof", As(u));
    ASSERT_EQ(r.status, 200) << r.body;
    json p = Body(r);
    EXPECT_EQ(p["root"], c["merkle_root"]);
    EXPECT_EQ(p["tree_size"], users.size());
    EXPECT_EQ(p["index"], p["position"].get<uint64_t>() - 1);
    EXPECT_EQ(p["leaf"], MerkleLeaf(p["position"], p["entry_time_ms"], u));
    EXPECT_EQ(p["leaf_hash"], ToHex(MerkleLeafHash(p["leaf"].get<std::string>())));
    proofs[u] = p;
  }
  auto verify = [&](const json& proof, const std::string& leaf) {
    std::vector<Hash> path;
    for (const json& h : proof["path"]) {
      std::string raw;
      EXPECT_TRUE(FromHex(h.get<std::string>(), &raw));
      Hash x;
      std::copy(raw.begin(), raw.end(), x.begin());
      path.push_back(x);
    }
    return VerifyInclusion(proof["index"], proof["tree_size"], MerkleLeafHash(leaf), path,
                           root_hash);
  };
  for (const std::string& u : users) EXPECT_TRUE(verify(proofs[u], proofs[u]["leaf"])) << u;
  EXPECT_FALSE(verify(proofs["u1"], proofs["u2"]["leaf"]));
  // The leaf with another user in it does not verify either.
  EXPECT_FALSE(verify(proofs["u1"],
                      MerkleLeaf(proofs["u1"]["position"], proofs["u1"]["entry_time_ms"], "u2")));
  r = Call("GET", "/v1/campaigns/ac/entries/me/proof", As("stranger"));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "not_entered");
}

// A waitlist longer than the api searches in place (it keeps a rank index
// per campaign): every waitlisted user's rank is its place, and a restock
// promotes the head and moves everyone up.
TEST_F(Holds, ALongWaitlistRanksEveryoneAndMovesUp) {
  Create({{"id", "big"}, {"stock", 1}, {"win_bps", 10000}, {"draw", "at_close"}});
  constexpr int kUsers = 90;
  for (int i = 0; i < kUsers; ++i) {
    http::Response r = Call("POST", "/v1/campaigns/big/entries", As("w" + std::to_string(i)));
    ASSERT_EQ(r.status, 202) << r.body;
  }
  ASSERT_EQ(AwaitStatus("big", "w" + std::to_string(kUsers - 1), "queued")["status"], "queued");
  http::Headers ops = As("ops", true);
  ASSERT_EQ(Call("POST", "/v1/admin/campaigns/big/close", ops).status, 200);
  auto ranks = [&] {
    std::map<uint64_t, std::string> by_rank;
    int won = 0;
    for (int i = 0; i < kUsers; ++i) {
      const std::string u = "w" + std::to_string(i);
      json me = Me("big", u);
      if (me["status"] == "won") {
        ++won;
        EXPECT_FALSE(me.contains("hold_until_ms")) << me;  // hold_s 0: a final win
      } else {
        EXPECT_EQ(me["status"], "waitlisted") << me;
        EXPECT_TRUE(by_rank.emplace(me.value("waitlist_rank", uint64_t{0}), u).second) << me;
      }
    }
    return std::pair{won, by_rank};
  };
  auto [won, by_rank] = ranks();
  EXPECT_EQ(won, 1);
  ASSERT_EQ(by_rank.size(), kUsers - 1u);
  EXPECT_EQ(by_rank.begin()->first, 1u);
  EXPECT_EQ(by_rank.rbegin()->first, kUsers - 1u);
  http::Headers wait = ops;
  wait.emplace_back("Prefer", "wait=5");
  ASSERT_EQ(Call("POST", "/v1/admin/campaigns/big/restock", wait, json{{"units", 2}}.dump()).status,
            200);
  auto [won2, by_rank2] = ranks();
  EXPECT_EQ(won2, 3);
  ASSERT_EQ(by_rank2.size(), kUsers - 3u);
  EXPECT_EQ(by_rank2.begin()->first, 1u);
  EXPECT_EQ(by_rank2.at(1), by_rank.at(3));
  EXPECT_EQ(by_rank2.rbegin()->first, kUsers - 3u);
  EXPECT_EQ(Me("big", by_rank.at(1))["status"], "won");
  EXPECT_EQ(Me("big", by_rank.at(2))["status"], "won");
}

TEST_F(Holds, ACloseWithoutEntropySourceTakesNoValue) {
  Create({{"id", "c1"}, {"stock", 1}, {"win_bps", 10000}});
  http::Response r = Call("POST", "/v1/admin/campaigns/c1/close", As("ops", true),
                          json{{"entropy_value", "x"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "unexpected_entropy_value");
  r = Call("POST", "/v1/admin/campaigns/c1/close", As("ops", true), json{{"other", 1}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "unknown_field");
}

}  // namespace
}  // namespace tl::testing
