#include "api/views.h"

#include <google/protobuf/util/json_util.h>

#include <deque>
#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/core/hash.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

// The HTTP status of a rejection; its code is the wire vocabulary's.
std::pair<int, const char*> RejectionHttp(pb::RejectReason r) {
  switch (r) {
    case pb::REJECT_UNKNOWN_CAMPAIGN:
    case pb::REJECT_NOT_ENTERED:
    case pb::REJECT_UNKNOWN_ITEM:
      return {404, RejectCode(r)};
    case pb::REJECT_INVALID_ARGUMENT:
      return {400, RejectCode(r)};
    case pb::REJECT_IDEMPOTENCY_MISMATCH:
    case pb::REJECT_PASS_MISMATCH:
    case pb::REJECT_QUANTITY:
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
            {"seed_commitment", ToHex(s.seed_commitment())},
            {"seed_nonce", ToHex(cfg.seed_nonce())},
            {"hold_s", cfg.hold_s()},
            {"draw", DrawName(cfg.draw())},
            {"entropy_source", cfg.entropy_source()},
            {kConfirmed, s.confirmed()},
            {kExpired, s.expired()},
            {kWaitlisted, s.waitlisted()},
            {"promoted", s.promoted()}};
  if (c.items() > 0) {
    json items = json::array();
    for (size_t i = 0; i < c.items(); ++i) {
      const pb::Item& it = cfg.items(static_cast<int>(i));
      const pb::ItemCounters& n = s.items(static_cast<int>(i));
      items.push_back({{"id", it.id()},
                       {"label", it.label()},
                       {"stock", it.stock()},
                       {"per_user_max", it.per_user_max()},
                       {"stock_left", n.stock_left()},
                       {"taken", n.taken()},
                       {"returned", n.returned()},
                       {"restocked", n.restocked()},
                       {"confirmed", n.confirmed()},
                       {"waitlisted", n.waitlisted()},
                       {"promoted", n.promoted()}});
    }
    j["items"] = std::move(items);
    j["per_user_max"] = cfg.per_user_max() == 0 ? 1 : cfg.per_user_max();
    j["choose"] = ChooseName(cfg.choose());
    j["choose_s"] = cfg.choose_s();
    j["admitted_choosing"] = s.admitted_choosing();
    j["chosen"] = s.chosen();
    j["choices_expired"] = s.choices_expired();
  }
  if (s.revealed()) j["seed"] = ToHex(c.seed);
  if (s.closed() && !s.merkle_root().empty()) {  // ledgers closed before receipts have none
    j["merkle_root"] = ToHex(s.merkle_root());
    j["merkle_leaves"] = s.merkle_leaves();
  }
  if (s.closed() && !cfg.entropy_source().empty()) j["entropy_value"] = s.entropy_value();
  return j;
}

namespace {

// An at-close campaign's waitlist as position -> drawn rank, built once per
// campaign: the waitlist is fixed at the draw (promotions only move the
// campaign's `promoted` counter), and the live channel asks for many
// waitlisted users at each change. Small waitlists are searched instead.
class WaitlistRanks {
 public:
  static constexpr size_t kScanMax = 64;
  static constexpr size_t kCampaignsMax = 16;  // cached maps; the oldest go first

  uint64_t DrawnRank(const CampaignState& c, uint64_t position) {
    const std::vector<uint64_t>& w = c.waitlist;
    if (w.size() <= kScanMax) {
      for (size_t i = 0; i < w.size(); ++i)
        if (w[i] == position) return i + 1;
      return 0;
    }
    std::shared_ptr<const Map> map;
    {
      absl::MutexLock lock(&mu_);
      auto it = maps_.find(c.snap.campaign_id());
      if (it != maps_.end() && it->second->data == w.data() && it->second->size == w.size())
        map = it->second;
    }
    if (!map) {
      auto m = std::make_shared<Map>();
      m->data = w.data();
      m->size = w.size();
      m->rank.reserve(w.size());
      for (size_t i = 0; i < w.size(); ++i) m->rank.emplace(w[i], i + 1);
      map = m;
      absl::MutexLock lock(&mu_);
      if (!maps_.contains(c.snap.campaign_id())) order_.push_back(c.snap.campaign_id());
      maps_[c.snap.campaign_id()] = std::move(m);
      while (order_.size() > kCampaignsMax) {
        maps_.erase(order_.front());
        order_.pop_front();
      }
    }
    auto r = map->rank.find(position);
    return r == map->rank.end() ? 0 : r->second;
  }

 private:
  struct Map {
    const uint64_t* data = nullptr;  // the waitlist it was built from
    size_t size = 0;
    absl::flat_hash_map<uint64_t, uint64_t> rank;
  };
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const Map>> maps_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

WaitlistRanks& Ranks() {
  static auto* ranks = new WaitlistRanks();
  return *ranks;
}

}  // namespace

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
  const EntryStatus st = c.status[v.position - 1];
  v.status = EntryStatusName(st);
  if (st == EntryStatus::kWon) v.hold_until_ms = c.HoldOf(v.position);
  if (st == EntryStatus::kWaitlisted) {
    const uint64_t drawn = Ranks().DrawnRank(c, v.position);
    if (drawn > c.snap.promoted()) v.waitlist_rank = drawn - c.snap.promoted();
  }
  return v;
}

ItemFields ItemFieldsOf(const CampaignState& c, std::string_view user) {
  ItemFields f;
  if (c.items() == 0) return f;
  f.items_left.reserve(c.items());
  for (size_t i = 0; i < c.items(); ++i) f.items_left.push_back(c.ItemStockLeft(i));
  auto it = c.position_of.find(absl::string_view(user.data(), user.size()));
  if (it == c.position_of.end() || (it->second & kPrequeuedBit)) return f;
  const uint64_t p = it->second;
  if (p == 0 || p > c.item_of.size()) return f;
  if (c.item_of[p - 1] != 0) {
    f.item_id = c.snap.config().items(static_cast<int>(c.ItemAt(p))).id();
    f.quantity = c.QuantityAt(p);
  }
  if (auto d = c.choose_until.find(p); d != c.choose_until.end()) f.choose_until_ms = d->second;
  return f;
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
std::string EntryJsonText(std::string_view campaign, std::string_view user, const EntryView& v,
                          const ItemFields* f) {
  std::string out;
  out.reserve(256);
  const bool queued = v.status == kQueued;
  out += "{";
  if (queued && v.paused) out += "\"admission_paused\":true,";
  out += "\"campaign\":";
  AppendJsonString(&out, campaign);
  if (f && !v.status.empty()) {
    // choose_until_ms: an admitted user's deadline to choose (the countdown).
    if (v.status == kAdmitted && f->choose_until_ms > 0)
      absl::StrAppend(&out, ",\"choose_until_ms\":", f->choose_until_ms);
    if (!f->item_id.empty()) {
      out += ",\"item_id\":";
      AppendJsonString(&out, f->item_id);
    }
  }
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
      // hold_until_ms: a held win's deadline (the live channel's countdown).
      if (v.status == kWon && v.hold_until_ms > 0)
        absl::StrAppend(&out, ",\"hold_until_ms\":", v.hold_until_ms);
      absl::StrAppend(&out, ",\"position\":", v.position, ",\"serving\":", v.serving);
    }
    out += ",\"status\":";
    AppendJsonString(&out, v.status);
  }
  if (f && !v.status.empty() && !f->item_id.empty())
    absl::StrAppend(&out, ",\"quantity\":", f->quantity);
  out += ",\"user\":";
  AppendJsonString(&out, user);
  // waitlist_rank: the current place on the waitlist, 1 = promoted next.
  if (v.status == kWaitlisted && v.waitlist_rank > 0)
    absl::StrAppend(&out, ",\"waitlist_rank\":", v.waitlist_rank);
  out += "}";
  return out;
}

json EntryJson(std::string_view campaign, std::string_view user, const EntryView& v,
               const ItemFields* f) {
  return json::parse(EntryJsonText(campaign, user, v, f));
}

json EntryJson(const CampaignState& c, std::string_view user) {
  const ItemFields f = ItemFieldsOf(c, user);
  return EntryJson(c.snap.campaign_id(), user, EntryViewOf(c, user), &f);
}

void AddItemFields(const CampaignState& c, std::string_view user, json* entry) {
  if (c.items() == 0 || !entry->is_object() || !entry->contains("status")) return;
  const ItemFields f = ItemFieldsOf(c, user);
  if (!f.item_id.empty()) {
    (*entry)["item_id"] = f.item_id;
    (*entry)["quantity"] = f.quantity;
  }
  if ((*entry)["status"] == kAdmitted && f.choose_until_ms > 0)
    (*entry)["choose_until_ms"] = f.choose_until_ms;
}

bool IsDecided(const EntryView& v) {
  return !v.status.empty() && v.status != kQueued && v.status != kPrequeued;
}

bool IsDecided(const json& entry) {
  auto s = entry.find("status");
  return s != entry.end() && *s != kQueued && *s != kPrequeued;
}

bool IsFinal(const EntryView& v) {
  return IsDecided(v) && v.status != kWaitlisted && v.status != kAdmitted &&
         !(v.status == kWon && v.hold_until_ms > 0);
}

bool IsFinal(const json& entry) {
  if (!IsDecided(entry)) return false;
  const json& s = entry["status"];
  return s != kWaitlisted && s != kAdmitted && !(s == kWon && entry.contains("hold_until_ms"));
}

std::pair<int, json> DescribeDecision(const std::vector<pb::Event>& events, const std::string& user,
                                      const CampaignState* campaign, int ok_status) {
  // An answer may start with what the command's time set off first (holds
  // expiring, units returning, waitlisted users promoted: other users'
  // events); the command's own event is the one about `user`.
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
  json body = json::object();
  bool entry_event = false;
  for (const pb::Event& e : events) {
    if (e.has_queue_entered() && e.queue_entered().user_id() == user) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.queue_entered().user_id()},
              {"status", kQueued},
              {"position", e.queue_entered().position()}};
      entry_event = true;
    } else if (e.has_entry_prequeued() && e.entry_prequeued().user_id() == user) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_prequeued().user_id()},
              {"status", kPrequeued}};
      entry_event = true;
    } else if (e.has_draw_resolved() && e.draw_resolved().user_id() == user) {
      const pb::DrawResolved& d = e.draw_resolved();
      body["status"] = OutcomeName(d.outcome());
      body["draw_value"] = absl::StrCat(d.draw_value());
      if (d.hold_until_ms() > 0) body["hold_until_ms"] = d.hold_until_ms();
      if (!d.item_id().empty()) {
        body["item_id"] = d.item_id();
        body["quantity"] = d.quantity() == 0 ? 1 : d.quantity();
      }
      if (d.choose_until_ms() > 0) body["choose_until_ms"] = d.choose_until_ms();
    } else if (e.has_item_chosen() && e.item_chosen().user_id() == user) {
      const pb::ItemChosen& ch = e.item_chosen();
      body = {{"campaign", e.campaign_id()},
              {"user", ch.user_id()},
              {"status", kWon},
              {"position", ch.position()},
              {"item_id", ch.item_id()},
              {"quantity", ch.quantity() == 0 ? 1 : ch.quantity()}};
      if (ch.hold_until_ms() > 0) body["hold_until_ms"] = ch.hold_until_ms();
      entry_event = true;
    } else if (e.has_entry_cancelled() && e.entry_cancelled().user_id() == user) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_cancelled().user_id()},
              {"status", kCancelled},
              {"position", e.entry_cancelled().position()}};
      entry_event = true;
    } else if (e.has_entry_confirmed() && e.entry_confirmed().user_id() == user) {
      body = {{"campaign", e.campaign_id()},
              {"user", e.entry_confirmed().user_id()},
              {"status", kConfirmed},
              {"position", e.entry_confirmed().position()},
              {"pass_id", e.entry_confirmed().pass_id()}};
      entry_event = true;
    }
  }
  if (entry_event) {
    if (body["status"] == kQueued && campaign) {
      json now = EntryJson(*campaign, user);
      if (now.contains("status")) body = now;
    }
    if (campaign && !body.contains("item_id")) AddItemFields(*campaign, user, &body);
    return {200, body};
  }
  if (events.size() == 1 && events[0].has_campaign_created() && campaign)
    return {ok_status, CampaignJson(*campaign)};
  // An at-close close answers with one DrawResolved per entry: list the
  // first kAnswerEventsMax and say how many there were.
  json list = json::array();
  for (const pb::Event& e : events) {
    if (list.size() == kAnswerEventsMax) break;
    std::string text;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(e, &text, opts);
    list.push_back(json::parse(text, nullptr, false));
  }
  json answer = {{"events", list}};
  if (events.size() > list.size()) {
    answer["events_total"] = events.size();
    answer["events_truncated"] = true;
  }
  return {ok_status, answer};
}

}  // namespace tl::api
