// Issue 15 over HTTP, against a real ticketd: the pop-up store booking
// (5,000 users, 8 slots of 25 places, admission 100/s, choose on admission
// within 30 s) and the quantity race (1,000 users asking for 1..4 seats of
// 100, first come first served, all or nothing).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kArgs = {"--user-rate", "0", "--tick-ms", "50"};

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

void Parallel(const TicketdProcess& d, int n, int threads,
              const std::function<void(httplib::Client&, int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto client = d.Client();
      for (int i; (i = next.fetch_add(1)) < n;) fn(*client, i);
    });
  }
  for (auto& t : pool) t.join();
}

// Every decided row of a campaign's results (position order), from the fold.
std::vector<json> Results(httplib::Client& c, const std::string& id, const std::string& q = "") {
  std::vector<json> out;
  std::string cursor = "0";
  for (;;) {
    auto r = c.Get("/v1/campaigns/" + id + "/results?limit=1000&cursor=" + cursor + q);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    if (!r || r->status != 200) break;
    json page = Body(r);
    for (auto& row : page["items"]) out.push_back(row);
    if (!page.contains("next_cursor")) break;
    cursor = std::to_string(page["next_cursor"].get<uint64_t>());
  }
  return out;
}

TEST(Items, QuantityRaceThousandUsersOneToFourSeatsOfHundredNeverOversells) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  json spec = {
      {"id", "seats"},        {"stock", 0},
      {"win_bps", 10000},     {"per_user_max", 4},
      {"choose", "at_entry"}, {"items", {{{"id", "stalls"}, {"label", "Stalls"}, {"stock", 100}}}}};
  auto r =
      c->Post("/v1/admin/campaigns", Auth(Token("ops", true)), spec.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::mutex mu;
  std::map<std::string, std::pair<std::string, int>> answers;  // user -> (status, quantity)
  Parallel(d, 1000, 16, [&](httplib::Client& client, int i) {
    const std::string user = "u" + std::to_string(i);
    const int q = 1 + i % 4;
    json body = {{"item_id", "stalls"}, {"quantity", q}};
    auto a = client.Post("/v1/campaigns/seats/entries", Auth(Token(user), "wait=10"), body.dump(),
                         "application/json");
    ASSERT_TRUE(a);
    ASSERT_EQ(a->status, 200) << a->body;
    json e = Body(a);
    EXPECT_EQ(e.value("item_id", ""), "stalls") << a->body;
    EXPECT_EQ(e.value("quantity", 0), q) << a->body;
    std::lock_guard<std::mutex> lock(mu);
    answers[user] = {e["status"].get<std::string>(), q};
  });
  ASSERT_EQ(answers.size(), 1000u);
  // Recompute from the ledger's order (positions): each request in turn is
  // won iff its whole quantity is still left.
  std::vector<json> rows = Results(*c, "seats");
  ASSERT_EQ(rows.size(), 1000u);
  uint64_t left = 100, won_units = 0;
  int refused = 0;
  for (const json& row : rows) {
    const std::string user = row["user"];
    const int q = answers[user].second;
    EXPECT_EQ(row.value("quantity", 0), q) << row;
    EXPECT_EQ(row.value("item_id", ""), "stalls") << row;
    const std::string want = static_cast<uint64_t>(q) <= left ? "won" : "sold_out";
    if (want == "won") {
      left -= static_cast<uint64_t>(q);
      won_units += static_cast<uint64_t>(q);
    } else {
      ++refused;
    }
    EXPECT_EQ(row["outcome"], want) << row;
    EXPECT_EQ(answers[user].first, want) << user;
  }
  EXPECT_LE(won_units, 100u);
  json campaign = Body(c->Get("/v1/campaigns/seats"));
  ASSERT_EQ(campaign["items"].size(), 1u);
  EXPECT_EQ(campaign["items"][0]["taken"], won_units);
  EXPECT_EQ(campaign["items"][0]["stock_left"], left);
  EXPECT_EQ(campaign["stock_left"], left);
  EXPECT_GT(refused, 0);
  // The filter by item lists the same rows; an unknown item is 404.
  EXPECT_EQ(Results(*c, "seats", "&item=stalls").size(), 1000u);
  auto bad = c->Get("/v1/campaigns/seats/results?item=nope");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 404) << bad->body;
}

TEST(Items, PopUpFiveThousandUsersEightSlotsOfTwentyFiveChooseOnAdmission) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  constexpr int kUsers = 5000, kSlots = 8, kPlaces = 25;
  json items = json::array();
  for (int s = 0; s < kSlots; ++s)
    items.push_back({{"id", "s" + std::to_string(s)},
                     {"label", std::to_string(14 + s / 2) + (s % 2 ? ":30" : ":00")},
                     {"stock", kPlaces}});
  json spec = {{"id", "popup"},
               {"stock", 0},
               {"win_bps", 10000},
               {"admission_rate_per_s", 100},
               {"choose", "on_admission"},
               {"choose_s", 30},
               {"items", items}};
  auto r =
      c->Post("/v1/admin/campaigns", Auth(Token("ops", true)), spec.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  const auto t0 = std::chrono::steady_clock::now();
  // Everyone enters (no wait: the queue decides later).
  Parallel(d, kUsers, 16, [&](httplib::Client& client, int i) {
    auto a = client.Post("/v1/campaigns/popup/entries", Auth(Token("p" + std::to_string(i))), "",
                         "application/json");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->status == 202 || a->status == 200) << a->body;
  });
  // Each user waits for admission (GET entries/me, sleeping by its distance
  // to the serving counter), then chooses: the popular slot s0 first, then
  // the slot after its previous one, until won or no slot has places.
  std::mutex mu;
  std::map<std::string, std::string> booked;        // user -> slot (200 won)
  std::map<std::string, int> won_by_slot;           // from the answers
  std::map<std::string, std::string> final_status;  // user -> status at the end
  std::atomic<int> item_full{0};
  std::atomic<bool> all_taken{false};
  Parallel(d, kUsers, 48, [&](httplib::Client& client, int i) {
    const std::string user = "p" + std::to_string(i);
    const std::string token = Token(user);
    json e;
    for (;;) {
      auto g = client.Get("/v1/campaigns/popup/entries/me", Auth(token));
      ASSERT_TRUE(g);
      if (g->status == 404) {  // the entry is not decided into the queue yet
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      ASSERT_EQ(g->status, 200) << g->body;
      e = Body(g);
      if (e["status"] != "queued") break;
      if (all_taken) break;  // every place booked: the rest can only sell out
      const uint64_t distance = e.value("queue_distance", uint64_t{0});
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::clamp<uint64_t>(distance * 10, 20, 1000)));
    }
    if (e["status"] != "admitted") {
      std::lock_guard<std::mutex> lock(mu);
      final_status[user] = e["status"];
      return;
    }
    EXPECT_TRUE(e.contains("choose_until_ms")) << e;
    int slot = (i % 10 < 7) ? 0 : i % kSlots;  // most want the first slot
    std::string status = "admitted";
    for (int tries = 0; tries < kSlots; ++tries, slot = (slot + 1) % kSlots) {
      const std::string id = "s" + std::to_string(slot);
      json body = {{"item_id", id}};
      auto ch = client.Post("/v1/campaigns/popup/entries/me/choice", Auth(token, "wait=5"),
                            body.dump(), "application/json");
      ASSERT_TRUE(ch);
      json a = Body(ch);
      if (ch->status == 200) {
        ASSERT_EQ(a["status"], "won") << ch->body;
        ASSERT_EQ(a["item_id"], id) << ch->body;
        status = "won";
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_FALSE(booked.contains(user)) << user << " booked twice";
        booked[user] = id;
        ++won_by_slot[id];
        break;
      }
      ASSERT_EQ(ch->status, 409) << ch->body;
      ASSERT_EQ(a["error"]["code"], "item_full") << ch->body;
      ++item_full;
    }
    if (status != "won") {
      json now = Body(client.Get("/v1/campaigns/popup/entries/me", Auth(token)));
      status = now.value("status", "");
    }
    std::lock_guard<std::mutex> lock(mu);
    final_status[user] = status;
    if (static_cast<int>(booked.size()) == kSlots * kPlaces) all_taken = true;
  });
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("pop-up: %zu booked, %d item_full refusals, %.1f s\n", booked.size(),
              item_full.load(), wall_s);
  // Every slot full (demand is far above capacity), nobody twice.
  EXPECT_EQ(booked.size(), static_cast<size_t>(kSlots * kPlaces));
  for (int s = 0; s < kSlots; ++s) EXPECT_EQ(won_by_slot["s" + std::to_string(s)], kPlaces);
  EXPECT_GT(item_full.load(), 0);
  // Against the fold: per item counters, and per slot the won rows.
  json campaign = Body(c->Get("/v1/campaigns/popup"));
  ASSERT_EQ(campaign["items"].size(), static_cast<size_t>(kSlots));
  for (const json& item : campaign["items"]) {
    EXPECT_EQ(item["taken"], kPlaces) << item;
    EXPECT_EQ(item["stock_left"], 0) << item;
  }
  EXPECT_EQ(campaign["chosen"], kSlots * kPlaces);
  EXPECT_EQ(campaign["stock_left"], 0);
  std::set<std::string> users;
  for (int s = 0; s < kSlots; ++s) {
    const std::string id = "s" + std::to_string(s);
    std::vector<json> rows = Results(*c, "popup", "&outcome=won&item=" + id);
    EXPECT_EQ(rows.size(), static_cast<size_t>(kPlaces)) << id;
    for (const json& row : rows) {
      EXPECT_TRUE(users.insert(row["user"]).second) << row["user"] << " in two slots";
      EXPECT_EQ(booked[row["user"]], id) << row;
    }
  }
  EXPECT_LT(wall_s, 90);
}

}  // namespace
}  // namespace tl::testing
