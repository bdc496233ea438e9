// api/views: the one JSON shape of an entry (hand-written text and JSON value
// agree, byte for byte), escaping of any user id the limits allow, the wire
// names of statuses and outcomes, and the answer to a decided command.
#include "api/views.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "engine/core/limits.h"
#include "engine/core/names.h"

namespace tl::api {
namespace {

using json = nlohmann::json;

EntryView View(std::string status, uint64_t position = 0, uint64_t serving = 0, uint32_t rate = 0,
               bool paused = false) {
  EntryView v;
  v.status = std::move(status);
  v.position = position;
  v.serving = serving;
  v.rate = rate;
  v.paused = paused;
  return v;
}

// The text the live channel sends is valid JSON of the same value as
// EntryJson, and for every user id the limits accept it is byte for byte
// what nlohmann prints (sorted keys, the same escapes): one shape for
// clients. (Control characters, which the limits refuse, are escaped as
// \u00XX where nlohmann writes \n or \t: the same value, other bytes.)
void ExpectTextIsCanonical(std::string_view campaign, std::string_view user, const EntryView& v) {
  std::string text = EntryJsonText(campaign, user, v);
  json parsed = json::parse(text, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << text;
  EXPECT_EQ(EntryJson(campaign, user, v), parsed);
  if (ValidateUserId(user, Limits{}).ok()) {
    EXPECT_EQ(text, parsed.dump());
  }
}

TEST(Views, NoEntryIsCampaignAndUserOnly) {
  json j = EntryJson("c1", "alice", EntryView{});
  EXPECT_EQ(j, json({{"campaign", "c1"}, {"user", "alice"}}));
  EXPECT_FALSE(IsFinal(j));
  EXPECT_FALSE(IsFinal(EntryView{}));
  ExpectTextIsCanonical("c1", "alice", EntryView{});
}

TEST(Views, QueuedShowsDistanceAndWait) {
  // position 10, serving 3: 7 to go, 6 strictly ahead; 7 at 2/s is 4 s (rounded up).
  json j = EntryJson("c1", "alice", View("queued", 10, 3, 2));
  EXPECT_EQ(j, json({{"campaign", "c1"},
                     {"user", "alice"},
                     {"status", "queued"},
                     {"position", 10},
                     {"serving", 3},
                     {"queue_distance", 7},
                     {"people_ahead", 6},
                     {"estimated_wait_s", 4}}));
  EXPECT_FALSE(IsFinal(j));
  ExpectTextIsCanonical("c1", "alice", View("queued", 10, 3, 2));
}

TEST(Views, QueuedEdgeCases) {
  // Being served (or past it): nobody ahead, no wait, never a negative count.
  for (uint64_t serving : {10u, 11u, 1000u}) {
    json j = EntryJson("c", "u", View("queued", 10, serving, 5));
    EXPECT_EQ(j["queue_distance"], 0) << serving;
    EXPECT_EQ(j["people_ahead"], 0) << serving;
    EXPECT_EQ(j["estimated_wait_s"], 0) << serving;
  }
  // No admission rate: the wait is 0, not a division by zero.
  EXPECT_EQ(EntryJson("c", "u", View("queued", 10, 0, 0))["estimated_wait_s"], 0);
  // Paused: the wait is unknown (null) and the pause is said.
  json paused = EntryJson("c", "u", View("queued", 10, 3, 2, /*paused=*/true));
  EXPECT_TRUE(paused["estimated_wait_s"].is_null());
  EXPECT_EQ(paused["admission_paused"], true);
  ExpectTextIsCanonical("c", "u", View("queued", 10, 3, 2, true));
  // A pause shows only on a waiting entry.
  EXPECT_FALSE(EntryJson("c", "u", View("won", 10, 3, 2, true)).contains("admission_paused"));
  // Large numbers survive the hand-written text; the wait rounds up:
  // (2^40 - 1) / (2^32 - 1) is just over 256.
  json big = EntryJson("c", "u", View("queued", uint64_t{1} << 40, 1, UINT32_MAX));
  EXPECT_EQ(big["position"].get<uint64_t>(), uint64_t{1} << 40);
  EXPECT_EQ(big["queue_distance"].get<uint64_t>(), (uint64_t{1} << 40) - 1);
  EXPECT_EQ(big["estimated_wait_s"].get<uint64_t>(), 257u);
}

TEST(Views, DecidedEntriesAreFinal) {
  for (const char* s : {"won", "lost", "sold_out", "cancelled"}) {
    SCOPED_TRACE(s);
    json j = EntryJson("c1", "alice", View(s, 4, 9, 2));
    EXPECT_EQ(j, json({{"campaign", "c1"},
                       {"user", "alice"},
                       {"status", s},
                       {"position", 4},
                       {"serving", 9}}));
    EXPECT_TRUE(IsFinal(j));
    EXPECT_TRUE(IsFinal(View(s, 4)));
    ExpectTextIsCanonical("c1", "alice", View(s, 4, 9, 2));
  }
}

// Holds and the waitlist (issue 14): a held win shows its deadline and is
// not final (the live channel goes on to confirmed, expired or cancelled);
// a waitlisted entry shows its current rank and is decided, not final.
TEST(Views, HeldWinAndWaitlistedAreDecidedButNotFinal) {
  EntryView held = View("won", 4, 9);
  held.hold_until_ms = 1'900'000'000'500;
  json j = EntryJson("c1", "alice", held);
  EXPECT_EQ(j, json({{"campaign", "c1"},
                     {"user", "alice"},
                     {"status", "won"},
                     {"hold_until_ms", 1'900'000'000'500},
                     {"position", 4},
                     {"serving", 9}}));
  EXPECT_FALSE(IsFinal(j));
  EXPECT_FALSE(IsFinal(held));
  EXPECT_TRUE(IsDecided(j));
  EXPECT_TRUE(IsDecided(held));
  ExpectTextIsCanonical("c1", "alice", held);

  EntryView wait = View("waitlisted", 7, 9);
  wait.waitlist_rank = 3;
  j = EntryJson("c1", "alice", wait);
  EXPECT_EQ(j, json({{"campaign", "c1"},
                     {"user", "alice"},
                     {"status", "waitlisted"},
                     {"waitlist_rank", 3},
                     {"position", 7},
                     {"serving", 9}}));
  EXPECT_FALSE(IsFinal(j));
  EXPECT_FALSE(IsFinal(wait));
  EXPECT_TRUE(IsDecided(wait));
  ExpectTextIsCanonical("c1", "alice", wait);

  for (const char* s : {"confirmed", "expired"}) {
    SCOPED_TRACE(s);
    EntryView v = View(s, 4, 9);
    v.hold_until_ms = 1'900'000'000'500;  // only a held win shows it
    j = EntryJson("c1", "alice", v);
    EXPECT_FALSE(j.contains("hold_until_ms")) << j;
    EXPECT_TRUE(IsFinal(j));
    EXPECT_TRUE(IsFinal(v));
    ExpectTextIsCanonical("c1", "alice", v);
  }
  EXPECT_FALSE(IsDecided(View("queued", 4, 1)));
}

TEST(Views, PrequeuedShowsTheOpening) {
  EntryView v = View("prequeued");
  v.opens_at_ms = 1'900'000'000'123;
  json j = EntryJson("c1", "alice", v);
  EXPECT_EQ(j, json({{"campaign", "c1"},
                     {"user", "alice"},
                     {"status", "prequeued"},
                     {"opens_at_ms", 1'900'000'000'123}}));
  EXPECT_FALSE(IsFinal(j));
  EXPECT_FALSE(IsFinal(v));
  ExpectTextIsCanonical("c1", "alice", v);
}

TEST(Views, RejectedShowsTheReasonCode) {
  EntryView v = View("rejected");
  v.reject_reason = "REJECT_CAMPAIGN_FULL";
  json j = EntryJson("c1", "alice", v);
  EXPECT_EQ(j, json({{"campaign", "c1"},
                     {"user", "alice"},
                     {"status", "rejected"},
                     {"reason", "campaign_full"}}));
  EXPECT_TRUE(IsFinal(j));
  ExpectTextIsCanonical("c1", "alice", v);
  // A reason name this build does not know (a newer writer): the generic code.
  v.reject_reason = "REJECT_FROM_THE_FUTURE";
  EXPECT_EQ(EntryJson("c1", "alice", v)["reason"], "rejected");
  v.reject_reason = "";
  EXPECT_EQ(EntryJson("c1", "alice", v)["reason"], "rejected");
}

TEST(Views, OddUserIdsAreEscapedAndRoundTrip) {
  // Everything the user-id limits let through, and control characters the
  // text writer must escape even though the limits refuse them.
  for (std::string user :
       {std::string("quote\"d"), std::string("back\\slash"), std::string("</script>"),
        std::string("zoë"), std::string("日本語"), std::string("emoji 🎟️"),
        std::string("tab\there"), std::string("new\nline"), std::string("\x01\x1f\x7f"),
        std::string("nul\0byte", 8), std::string("{\"status\":\"won\"}")}) {
    SCOPED_TRACE(user);
    for (EntryView v : {EntryView{}, View("queued", 2, 1, 1), View("won", 2, 3)}) {
      json j = EntryJson("camp\"aign\\", user, v);
      EXPECT_EQ(j["user"].get<std::string>(), user);
      EXPECT_EQ(j["campaign"].get<std::string>(), "camp\"aign\\");
      // A user id never adds or changes a field.
      EXPECT_EQ(j.contains("status"), !v.status.empty());
      if (!v.status.empty()) {
        EXPECT_EQ(j["status"], v.status);
      }
      ExpectTextIsCanonical("camp\"aign\\", user, v);
    }
  }
}

TEST(Views, StatusAndOutcomeNamesAreOneSpelling) {
  EXPECT_STREQ(EntryStatusName(EntryStatus::kQueued), "queued");
  EXPECT_STREQ(EntryStatusName(EntryStatus::kWon), "won");
  EXPECT_STREQ(EntryStatusName(EntryStatus::kLost), "lost");
  EXPECT_STREQ(EntryStatusName(EntryStatus::kSoldOut), "sold_out");
  EXPECT_STREQ(EntryStatusName(EntryStatus::kCancelled), "cancelled");
  // An outcome reads the same as the status it leads to.
  EXPECT_STREQ(OutcomeName(pb::OUTCOME_WON), EntryStatusName(EntryStatus::kWon));
  EXPECT_STREQ(OutcomeName(pb::OUTCOME_LOST), EntryStatusName(EntryStatus::kLost));
  EXPECT_STREQ(OutcomeName(pb::OUTCOME_SOLD_OUT), EntryStatusName(EntryStatus::kSoldOut));
  EXPECT_STREQ(OutcomeName(pb::OUTCOME_UNSPECIFIED), "unknown");
}

TEST(Views, EveryRejectionHasAnHttpStatusAndADistinctCode) {
  std::set<std::string> codes;
  for (int r = pb::RejectReason_MIN; r <= pb::RejectReason_MAX; ++r) {
    if (!pb::RejectReason_IsValid(r)) continue;
    auto [status, code] = RejectionHttp(static_cast<pb::RejectReason>(r));
    SCOPED_TRACE(pb::RejectReason_Name(static_cast<pb::RejectReason>(r)));
    EXPECT_TRUE(status == 400 || status == 404 || status == 409 || status == 422) << status;
    if (r != pb::REJECT_REASON_UNSPECIFIED) {
      EXPECT_TRUE(codes.insert(code).second) << code;
    }
  }
  EXPECT_EQ(RejectionHttp(pb::REJECT_INVALID_ARGUMENT), std::make_pair(400, "invalid_argument"));
  EXPECT_EQ(RejectionHttp(pb::REJECT_UNKNOWN_CAMPAIGN).first, 404);
  EXPECT_EQ(RejectionHttp(pb::REJECT_DUPLICATE).first, 409);
  EXPECT_EQ(RejectionHttp(pb::REJECT_IDEMPOTENCY_MISMATCH),
            std::make_pair(422, "idempotency_key_reused"));  // as the api's own cache answers
  EXPECT_STREQ(RejectionHttp(static_cast<pb::RejectReason>(999)).second, "rejected");
}

TEST(Views, HexIsLowercaseTwoDigitsPerByte) {
  EXPECT_EQ(ToHex(std::string_view("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(ToHex(std::string_view("")), "");
}

// A campaign state built by hand: positions 1 (alice, won), 2 (bob, queued),
// a pre-queued carol and a rejected dave.
CampaignState SmallCampaign() {
  CampaignState c;
  c.snap.set_campaign_id("c1");
  c.snap.mutable_config()->set_admission_rate_per_s(3);
  c.snap.mutable_config()->set_opens_at_ms(77);
  c.snap.set_serving(1);
  c.snap.set_last_position(2);
  for (const char* u : {"alice", "bob", "carol"}) c.names.emplace_back(u);
  c.by_position = {0, 1};
  c.status = {EntryStatus::kWon, EntryStatus::kQueued};
  c.position_of[c.names[0]] = 1;
  c.position_of[c.names[1]] = 2;
  c.position_of[c.names[2]] = kPrequeuedBit | 2;
  c.rejected_users["dave"] = pb::REJECT_CAMPAIGN_CLOSED;
  return c;
}

TEST(Views, EntryViewOfTheFold) {
  CampaignState c = SmallCampaign();
  EntryView alice = EntryViewOf(c, "alice");
  EXPECT_EQ(alice.status, "won");
  EXPECT_EQ(alice.position, 1u);
  EXPECT_EQ(alice.serving, 1u);
  EXPECT_EQ(alice.rate, 3u);
  EXPECT_EQ(EntryJson(c, "bob"), EntryJson("c1", "bob", View("queued", 2, 1, 3)));
  EntryView carol = EntryViewOf(c, "carol");
  EXPECT_EQ(carol.status, "prequeued");
  EXPECT_EQ(carol.position, 0u);
  EXPECT_EQ(carol.opens_at_ms, 77u);
  EXPECT_EQ(EntryJson(c, "dave")["reason"], "campaign_closed");
  EXPECT_EQ(EntryJson(c, "erin"), json({{"campaign", "c1"}, {"user", "erin"}}));
}

pb::Event Ev(uint64_t seq) {
  pb::Event e;
  e.set_sequence(seq);
  e.set_campaign_id("c1");
  return e;
}

TEST(Views, DescribeDecisionRejection) {
  pb::Event e = Ev(5);
  auto* r = e.mutable_entry_rejected();
  r->set_user_id("alice");
  r->set_reason(pb::REJECT_DUPLICATE);
  r->set_detail("alice already holds position 3");
  r->set_original_position(3);
  auto [status, body] = DescribeDecision({e}, "alice", nullptr, 201);
  EXPECT_EQ(status, 409);
  EXPECT_EQ(body, json({{"error",
                         {{"code", "duplicate"},
                          {"message", "alice already holds position 3"},
                          {"reason", "REJECT_DUPLICATE"},
                          {"original_position", 3}}}}));
}

TEST(Views, DescribeDecisionEntryAndItsDraw) {
  pb::Event entered = Ev(5);
  entered.mutable_queue_entered()->set_user_id("alice");
  entered.mutable_queue_entered()->set_position(7);
  auto [status, body] = DescribeDecision({entered}, "alice", nullptr, 201);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body,
            json({{"campaign", "c1"}, {"user", "alice"}, {"status", "queued"}, {"position", 7}}));

  pb::Event drawn = Ev(6);
  drawn.mutable_draw_resolved()->set_user_id("alice");
  drawn.mutable_draw_resolved()->set_position(7);
  drawn.mutable_draw_resolved()->set_outcome(pb::OUTCOME_SOLD_OUT);
  drawn.mutable_draw_resolved()->set_draw_value(UINT64_MAX);
  auto [s2, b2] = DescribeDecision({entered, drawn}, "alice", nullptr, 201);
  EXPECT_EQ(s2, 200);
  EXPECT_EQ(b2["status"], "sold_out");
  EXPECT_EQ(b2["draw_value"], "18446744073709551615");  // a string: JSON numbers lose bits

  // Another user's draw in the same batch does not touch alice's answer.
  drawn.mutable_draw_resolved()->set_user_id("bob");
  auto [s3, b3] = DescribeDecision({entered, drawn}, "alice", nullptr, 201);
  EXPECT_EQ(b3["status"], "queued");
  EXPECT_FALSE(b3.contains("draw_value"));
}

// An answer may start with what the command's time set off first (another
// user's hold expiring, the unit returning, a waitlisted user promoted): the
// answer is about the command's own user.
TEST(Views, DescribeDecisionPicksTheCommandsUserAfterExpiriesAndPromotions) {
  pb::Event expired = Ev(5);
  expired.mutable_hold_expired()->set_user_id("bob");
  expired.mutable_hold_expired()->set_position(2);
  pb::Event stock = Ev(6);
  stock.mutable_stock_changed()->set_delta(1);
  pb::Event promoted = Ev(7);
  promoted.mutable_entry_promoted()->set_user_id("carol");
  promoted.mutable_entry_promoted()->set_position(3);
  pb::Event bob_cancel = Ev(8);
  bob_cancel.mutable_entry_cancelled()->set_user_id("bob");
  bob_cancel.mutable_entry_cancelled()->set_position(2);
  pb::Event cancelled = Ev(9);
  cancelled.mutable_entry_cancelled()->set_user_id("alice");
  cancelled.mutable_entry_cancelled()->set_position(1);
  auto [status, body] =
      DescribeDecision({expired, stock, promoted, bob_cancel, cancelled}, "alice", nullptr, 200);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(
      body,
      json({{"campaign", "c1"}, {"user", "alice"}, {"status", "cancelled"}, {"position", 1}}));

  pb::Event confirmed = Ev(10);
  confirmed.mutable_entry_confirmed()->set_user_id("alice");
  confirmed.mutable_entry_confirmed()->set_position(1);
  confirmed.mutable_entry_confirmed()->set_pass_id("c1:1");
  std::tie(status, body) = DescribeDecision({expired, stock, confirmed}, "alice", nullptr, 200);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, json({{"campaign", "c1"},
                        {"user", "alice"},
                        {"status", "confirmed"},
                        {"position", 1},
                        {"pass_id", "c1:1"}}));

  pb::Event refused = Ev(11);
  refused.mutable_entry_rejected()->set_user_id("alice");
  refused.mutable_entry_rejected()->set_reason(pb::REJECT_PASS_MISMATCH);
  std::tie(status, body) = DescribeDecision({expired, stock, refused}, "alice", nullptr, 200);
  EXPECT_EQ(status, 422);
  EXPECT_EQ(body["error"]["code"], "pass_mismatch");
  refused.mutable_entry_rejected()->set_reason(pb::REJECT_HOLD_EXPIRED);
  std::tie(status, body) = DescribeDecision({refused}, "alice", nullptr, 200);
  EXPECT_EQ(status, 409);
  EXPECT_EQ(body["error"]["code"], "hold_expired");
}

TEST(Views, DescribeDecisionListsAtMostSoManyEvents) {
  std::vector<pb::Event> events;
  for (uint64_t i = 0; i < kAnswerEventsMax + 5; ++i) {
    pb::Event e = Ev(i + 1);
    e.mutable_draw_resolved()->set_user_id("u" + std::to_string(i));
    events.push_back(e);
  }
  auto [status, body] = DescribeDecision(events, "admin", nullptr, 200);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["events"].size(), kAnswerEventsMax);
  EXPECT_EQ(body["events_total"], kAnswerEventsMax + 5);
  EXPECT_EQ(body["events_truncated"], true);
}

TEST(Views, DescribeDecisionOtherEventsAreListed) {
  pb::Event closed = Ev(9);
  closed.mutable_campaign_closed()->set_entries(12);
  auto [status, body] = DescribeDecision({closed}, "admin", nullptr, 202);
  EXPECT_EQ(status, 202);
  ASSERT_EQ(body["events"].size(), 1u);
  EXPECT_EQ(body["events"][0]["campaign_id"], "c1");
  EXPECT_EQ(body["events"][0]["campaign_closed"]["entries"], "12");  // proto3 JSON: 64-bit as text
  auto [s0, b0] = DescribeDecision({}, "admin", nullptr, 202);
  EXPECT_EQ(s0, 202);
  EXPECT_EQ(b0, json({{"events", json::array()}}));
}

}  // namespace
}  // namespace tl::api
