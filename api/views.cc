#include "api/views.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "engine/core/hash.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

// The HTTP status of a rejection; its code is the wire vocabulary's.
std::pair<int, const char*> RejectionHttp(pb::RejectReason r) {
  switch (r) {
    case pb::REJECT_UNKNOWN_CAMPAIGN:
    case pb::REJECT_NOT_ENTERED:
      return {404, RejectCode(r)};
    case pb::REJECT_INVALID_ARGUMENT:
      return {400, RejectCode(r)};
    case pb::REJECT_IDEMPOTENCY_MISMATCH:
      return {422, RejectCode(r)};
    default:
      return {409, RejectCode(r)};
  }
}

json CampaignJson(const CampaignState& c) {
  const auto& s = c.snap;
  const auto& cfg = s.config();
  json j = {{"id", s.campaign_id()},
            {"title", cfg.title()},
            {"stock", cfg.stock()},
            {"win_bps", cfg.win_bps()},
            {"admission_rate_per_s", cfg.admission_rate_per_s()},
            {"queueing", QueueingName(cfg.queueing())},
            {"opens_at_ms", cfg.opens_at_ms()},
            {"max_entries", cfg.max_entries()},
            {"status", CampaignStatusName(s.closed())},
            {"admission_paused", s.paused()},
            {"entries", c.entries()},
            {kPrequeued, s.prequeued()},
            {"serving", s.serving()},
            {"drawn", s.won() + s.lost() + s.sold_out()},
            {kWon, s.won()},
            {kLost, s.lost()},
            {kSoldOut, s.sold_out()},
            {kCancelled, s.cancelled()},
            {"stock_left", s.stock_left()},
            {"restocked", s.restocked()},
            {"seed_commitment", ToHex(s.seed_commitment())}};
  if (s.revealed()) j["seed"] = ToHex(c.seed);
  return j;
}

EntryView EntryViewOf(const CampaignState& c, std::string_view user) {
  EntryView v;
  const auto& cfg = c.snap.config();
  v.serving = c.snap.serving();
  v.rate = cfg.admission_rate_per_s();
  v.paused = c.snap.paused();
  v.opens_at_ms = cfg.opens_at_ms();
  auto it = c.position_of.find(absl::string_view(user.data(), user.size()));
  if (it == c.position_of.end()) {
    if (auto r = c.rejected_users.find(user); r != c.rejected_users.end()) {
      v.status = kRejected;
      v.reject_reason = RejectReasonName(static_cast<pb::RejectReason>(r->second));
    }
    return v;
  }
  if (it->second & kPrequeuedBit) {
    v.status = kPrequeued;
    return v;
  }
  v.position = it->second;
  v.status = EntryStatusName(c.status[v.position - 1]);
  return v;
}

namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

}  // namespace

// Written by hand (keys in the order nlohmann::json sorts them), because the
// live channel formats one per watcher per change: tens of thousands a second.
std::string EntryJsonText(std::string_view campaign, std::string_view user, const EntryView& v) {
  std::string out;
  out.reserve(256);
  const bool queued = v.status == kQueued;
  out += "{";
  if (queued && v.paused) out += "\"admission_paused\":true,";
  out += "\"campaign\":";
  AppendJsonString(&out, campaign);
  if (!v.status.empty()) {
    if (v.status == kRejected) {
      absl::StrAppend(&out, ",\"reason\":\"", RejectCode(ParseRejectReason(v.reject_reason)), "\"");
    } else if (v.status == kPrequeued) {
      absl::StrAppend(&out, ",\"opens_at_ms\":", v.opens_at_ms);
    } else if (queued) {
      const uint64_t distance = v.position > v.serving ? v.position - v.serving : 0;
      out += ",\"estimated_wait_s\":";
      if (v.paused) {
        out += "null";
      } else {
        absl::StrAppend(&out, v.rate == 0 ? 0 : (distance + v.rate - 1) / v.rate);
      }
      // people_ahead: users strictly ahead; queue_distance: DESIGN.md's
      // "people ahead", position - serving counter.
      absl::StrAppend(&out, ",\"people_ahead\":", distance > 0 ? distance - 1 : 0,
                      ",\"position\":", v.position, ",\"queue_distance\":", distance,
                      ",\"serving\":", v.serving);
    } else {
      absl::StrAppend(&out, ",\"position\":", v.position, ",\"serving\":", v.serving);
    }
    out += ",\"status\":";
    AppendJsonString(&out, v.status);
  }
  out += ",\"user\":";
  AppendJsonString(&out, user);
  out += "}";
  return out;
}

json EntryJson(std::string_view campaign, std::string_view user, const EntryView& v) {
  return json::parse(EntryJsonText(campaign, user, v));
}

json EntryJson(const CampaignState& c, std::string_view user) {
  return EntryJson(c.snap.campaign_id(), user, EntryViewOf(c, user));
}

bool IsFinal(const EntryView& v) {
  return !v.status.empty() && v.status != kQueued && v.status != kPrequeued;
}

bool IsFinal(const json& entry) {
  auto s = entry.find("status");
  return s != entry.end() && *s != kQueued && *s != kPrequeued;
}

std::pair<int, json> DescribeDecision(const std::vector<pb::Event>& events, const std::string& user,
                                      const CampaignState* campaign, int ok_status) {
  json body = json::object();
  for (const pb::Event& e : events) {
    if (e.has_entry_rejected()) {
      auto [status, code] = RejectionHttp(e.entry_rejected().reason());
      json err = {{"code", code},
                  {"message", e.entry_rejected().detail()},
                  {"reason", RejectReasonName(e.entry_rejected().reason())}};
      if (e.entry_rejected().original_position())
        err["original_position"] = e.entry_rejected().original_position();
      return {status, json{{"error", err}}};
    }
  }
  bool entry_event = false;
  for (const pb::Event& e : events) {
    if (e.has_queue_entered() && e.queue_entered().user_id() == user) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.queue_entered().user_id()},
              {"status", kQueued},
              {"position", e.queue_entered().position()}};
      entry_event = true;
    } else if (e.has_entry_prequeued()) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_prequeued().user_id()},
              {"status", kPrequeued}};
      entry_event = true;
    } else if (e.has_draw_resolved() && e.draw_resolved().user_id() == user) {
      body["status"] = OutcomeName(e.draw_resolved().outcome());
      body["draw_value"] = absl::StrCat(e.draw_resolved().draw_value());
    } else if (e.has_entry_cancelled()) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_cancelled().user_id()},
              {"status", kCancelled},
              {"position", e.entry_cancelled().position()}};
      entry_event = true;
    }
  }
  if (entry_event) {
    if (body["status"] == kQueued && campaign) {
      json now = EntryJson(*campaign, user);
      if (now.contains("status")) body = now;
    }
    return {200, body};
  }
  if (events.size() == 1 && events[0].has_campaign_created() && campaign)
    return {ok_status, CampaignJson(*campaign)};
  json list = json::array();
  for (const pb::Event& e : events) {
    std::string text;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(e, &text, opts);
    list.push_back(json::parse(text, nullptr, false));
  }
  return {ok_status, json{{"events", list}}};
}

}  // namespace tl::api
