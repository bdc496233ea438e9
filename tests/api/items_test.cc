// Items, quantities and choosing on admission over HTTP (issue 15): the
// api's handlers on a real engine (the embedded log in a temporary
// directory, the ticker on), plain Request values in, Response values out.
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
#include "engine/runtime/node.h"
#include "ops/app/backends.h"
#include "tests/support/api_on_node.h"
#include "tests/support/call_handler.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

class Items : public ApiOnNode {};

TEST_F(Items, CreateTakesItemsAndRefusesWhatIsWrongNamingTheField) {
  http::Headers ops = As("ops", true);
  json item = {{"id", "a"}, {"label", "A"}, {"stock", 5}};
  json base = {{"id", "x"}, {"stock", 0}, {"win_bps", 10000}};
  struct Case {
    json extra;
    int status;
    std::string code, names;
  };
  for (const Case& k : std::vector<Case>{
           {{{"items", json::array()}}, 400, "invalid_field", "items"},
           {{{"items", "a"}}, 400, "invalid_field", "items"},
           {{{"items", {{{"id", "a b"}, {"stock", 1}}}}}, 400, "invalid_field", "items[0].id"},
           {{{"items", {{{"id", "a"}}}}}, 400, "invalid_field", "items[0].stock"},
           {{{"items", {{{"id", "a"}, {"stock", 1}, {"colour", "red"}}}}},
            400,
            "unknown_field",
            "items[0].colour"},
           {{{"items", {{{"id", "a"}, {"stock", 1}, {"label", std::string(101, 'l')}}}}},
            400,
            "invalid_field",
            "items[0].label"},
           {{{"items", {{{"id", "a"}, {"stock", 1}, {"per_user_max", 101}}}}},
            400,
            "invalid_field",
            "items[0].per_user_max"},
           {{{"items", {item, item}}}, 400, "invalid_field", "used twice"},
           {{{"items", {item}}, {"per_user_max", 101}}, 400, "invalid_field", "per_user_max"},
           {{{"items", {item}}, {"choose", "later"}}, 400, "invalid_field", "choose"},
           {{{"items", {item}}, {"choose_s", 3601}}, 400, "invalid_field", "choose_s"},
           {{{"items", {item}}, {"stock", 3}}, 422, "invalid_combination", "stock"},
           {{{"choose", "on_admission"}, {"choose_s", 5}}, 422, "invalid_combination", "items"},
           {{{"per_user_max", 2}}, 422, "invalid_combination", "items"},
           {{{"items", {item}}, {"choose", "on_admission"}},
            422,
            "invalid_combination",
            "choose_s"},
           {{{"items", {item}}, {"choose_s", 5}}, 422, "invalid_combination", "choose_s"},
           {{{"items", {item}}, {"choose", "on_admission"}, {"choose_s", 5}, {"draw", "at_close"}},
            422,
            "invalid_combination",
            "draw"},
       }) {
    json spec = base;
    spec.update(k.extra);
    http::Response r = Call("POST", "/v1/admin/campaigns", ops, spec.dump());
    SCOPED_TRACE(spec.dump());
    EXPECT_EQ(r.status, k.status) << r.body;
    EXPECT_EQ(Body(r)["error"]["code"], k.code) << r.body;
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find(k.names), std::string::npos)
        << r.body;
  }
  Create({{"id", "ok"},
          {"stock", 0},
          {"win_bps", 10000},
          {"per_user_max", 3},
          {"items",
           {{{"id", "a"}, {"label", "14:00-14:30"}, {"stock", 5}, {"per_user_max", 2}},
            {{"id", "b"}, {"stock", 7}}}}});
  json c = Campaign("ok");
  EXPECT_EQ(c["stock_left"], 12);
  EXPECT_EQ(c["choose"], "at_entry");
  EXPECT_EQ(c["per_user_max"], 3);
  ASSERT_EQ(c["items"].size(), 2u);
  EXPECT_EQ(c["items"][0]["label"], "14:00-14:30");
  EXPECT_EQ(c["items"][0]["per_user_max"], 2);
  EXPECT_EQ(c["items"][1]["stock_left"], 7);
}

TEST_F(Items, AtEntryBodyTakesItemAndQuantityAllOrNothing) {
  Create(
      {{"id", "s"},
       {"stock", 0},
       {"win_bps", 10000},
       {"per_user_max", 4},
       {"items", {{{"id", "a"}, {"stock", 5}}, {{"id", "b"}, {"stock", 2}, {"per_user_max", 1}}}}});
  auto enter = [&](const std::string& user, const json& body) {
    http::Headers h = As(user);
    h.emplace_back("Prefer", "wait=5");
    return Call("POST", "/v1/campaigns/s/entries", h, body.dump());
  };
  EXPECT_EQ(enter("u0", json::object()).status, 400);  // item_id required
  EXPECT_EQ(Body(enter("u0", {{"item_id", 5}}))["error"]["code"], "invalid_field");
  EXPECT_EQ(Body(enter("u0", {{"item_id", "a"}, {"quantity", 0}}))["error"]["code"],
            "invalid_field");
  EXPECT_EQ(Body(enter("u0", {{"item_id", "a"}, {"quantity", 101}}))["error"]["code"],
            "invalid_field");
  EXPECT_EQ(Body(enter("u0", {{"item_id", "a"}, {"size", 1}}))["error"]["code"], "unknown_field");
  http::Response r = enter("u1", {{"item_id", "nope"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "unknown_item");
  r = enter("u2", {{"item_id", "b"}, {"quantity", 2}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "quantity_over_limit");
  r = enter("u3", {{"item_id", "a"}, {"quantity", 4}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"], "won");
  EXPECT_EQ(Body(r)["item_id"], "a");
  EXPECT_EQ(Body(r)["quantity"], 4);
  r = enter("u4", {{"item_id", "a"}, {"quantity", 2}});  // 1 left: all or nothing
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"], "sold_out");
  json me = Me("s", "u3");
  EXPECT_EQ(me["item_id"], "a");
  EXPECT_EQ(me["quantity"], 4);
  json c = Campaign("s");
  EXPECT_EQ(c["items"][0]["stock_left"], 1);
  EXPECT_EQ(c["items"][0]["taken"], 4);
  // Restock names the item.
  http::Headers ops = As("ops", true);
  ops.emplace_back("Prefer", "wait=5");
  r = Call("POST", "/v1/admin/campaigns/s/restock", ops, json{{"units", 3}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "missing_field");
  r = Call("POST", "/v1/admin/campaigns/s/restock", ops,
           json{{"units", 3}, {"item_id", "zz"}}.dump());
  EXPECT_EQ(r.status, 404) << r.body;
  r = Call("POST", "/v1/admin/campaigns/s/restock", ops,
           json{{"units", 3}, {"item_id", "b"}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Campaign("s")["items"][1]["stock_left"], 5);
  // Results by item.
  json res = Body(Call("GET", "/v1/campaigns/s/results?item=a"));
  ASSERT_EQ(res["items"].size(), 2u) << res;
  EXPECT_EQ(res["items"][0]["item_id"], "a");
  EXPECT_EQ(Call("GET", "/v1/campaigns/s/results?item=b").status, 200);
  EXPECT_EQ(Call("GET", "/v1/campaigns/s/results?item=").status, 400);
  EXPECT_EQ(Call("GET", "/v1/campaigns/s/results?item=q").status, 404);
}

TEST_F(Items, OnAdmissionChoiceAndLiveChannel) {
  Create({{"id", "p"},
          {"stock", 0},
          {"win_bps", 10000},
          {"choose", "on_admission"},
          {"choose_s", 30},
          {"per_user_max", 2},
          {"items", {{{"id", "t1"}, {"stock", 1}}, {{"id", "t2"}, {"stock", 3}}}}});
  // An entry names no item here.
  http::Headers h = As("a");
  h.emplace_back("Prefer", "wait=5");
  http::Response r = Call("POST", "/v1/campaigns/p/entries", h, json{{"item_id", "t1"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  auto watch = Watch("p", "a");
  json e = Enter("p", "a");
  EXPECT_EQ(e["status"], "admitted") << e;
  EXPECT_TRUE(e.contains("choose_until_ms")) << e;
  json me = Me("p", "a");
  EXPECT_EQ(me["status"], "admitted");
  EXPECT_GT(me.value("choose_until_ms", uint64_t{0}), 0u);
  auto admitted = watch->Await([](const json& j) { return j.value("status", "") == "admitted"; });
  ASSERT_TRUE(admitted) << "no admitted message";
  EXPECT_FALSE(admitted->second) << "admitted is not final";
  EXPECT_TRUE(admitted->first.contains("choose_until_ms"));
  ASSERT_TRUE(admitted->first.contains("items"));
  EXPECT_EQ(admitted->first["items"][1]["stock_left"], 3);
  auto choose = [&](const std::string& user, const json& body) {
    http::Headers hh = As(user);
    hh.emplace_back("Prefer", "wait=5");
    return Call("POST", "/v1/campaigns/p/entries/me/choice", hh, body.dump());
  };
  EXPECT_EQ(Body(choose("a", json::object()))["error"]["code"], "missing_field");
  EXPECT_EQ(choose("a", {{"item_id", "zz"}}).status, 404);
  r = choose("a", {{"item_id", "t2"}, {"quantity", 3}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "quantity_over_limit");
  r = choose("a", {{"item_id", "t1"}, {"quantity", 2}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "item_full");
  r = choose("a", {{"item_id", "t2"}, {"quantity", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"], "won");
  EXPECT_EQ(Body(r)["item_id"], "t2");
  EXPECT_EQ(Body(r)["quantity"], 2);
  EXPECT_TRUE(Body(r).contains("pass"));
  r = choose("a", {{"item_id", "t1"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "already_chosen");
  r = choose("nobody", {{"item_id", "t1"}});  // no entry at all
  EXPECT_TRUE(r.status == 409 || r.status == 404) << r.body;
  auto won = watch->Await([](const json& j) { return j.value("status", "") == "won"; });
  ASSERT_TRUE(won);
  EXPECT_EQ(won->first["items"][1]["stock_left"], 1);
  json c = Campaign("p");
  EXPECT_EQ(c["chosen"], 1);
  EXPECT_EQ(c["items"][1]["taken"], 2);
  EXPECT_EQ(c["choose"], "on_admission");
  EXPECT_EQ(c["choose_s"], 30);
  // A campaign that does not choose on admission has no choice route.
  Create({{"id", "plain"}, {"stock", 1}, {"win_bps", 10000}});
  r = Call("POST", "/v1/campaigns/plain/entries/me/choice", As("a"), json{{"item_id", "x"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
}

}  // namespace
}  // namespace tl::testing
