// The read path, with its one rule: answer from a read model (Redis,
// PostgreSQL) only when it has applied the partition at least as far as the
// api's own fold, else from the fold. Store reads block on the network, so
// they run off the event loops (ApiOptions::offload).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/views.h"
#include "engine/core/limits.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

uint64_t Api::FoldSequence(int partition) {
  uint64_t seq = 0;
  backend_->WithState(partition, [&](const EngineState& s, uint64_t) { seq = s.next_sequence; });
  return seq;
}

void Api::CountRead(const char* route, const absl::Status& st, const char* store) {
  metrics_->Add("ticketledger_reads_total",
                {{"route", route}, {"source", st.ok() ? store : "fold"}});
}

std::optional<json> Api::StoredEntry(int partition, const std::string& campaign,
                                     const std::string& user) {
  if (!options_.read_model) return std::nullopt;
  const uint64_t seq = FoldSequence(partition);  // the store must be at least here
  auto v = options_.read_model->Entry(partition, seq, campaign, user);
  CountRead("entry", v.status(), options_.read_model->entry_source());
  if (!v.ok()) return std::nullopt;
  return EntryJson(campaign, user, *v);
}

void Api::GetMyEntry(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  json fold;
  if (!WithCampaign(c, [&](const CampaignState& cs) { fold = EntryJson(cs, c->claims.sub); }))
    return;
  auto answer = [this, c](json body) {
    if (!body.contains("status"))
      return c->Error(404, "not_entered",
                      "no entry for this user (a request still pending or rejected is reported "
                      "at its request link)");
    AddPass(&body, c->claims.sub);
    c->Json(200, body);
  };
  if (!options_.read_model) return answer(std::move(fold));
  options_.offload([this, c, fold = std::move(fold), answer]() mutable {
    if (std::optional<json> stored = StoredEntry(c->partition, c->campaign, c->claims.sub)) {
      // The read models keep no item fields yet (read_model.h): they come
      // from the fold, which is at least as far as the store.
      for (const char* k : {"item_id", "quantity", "choose_until_ms"})
        if (fold.contains(k) && !stored->contains(k)) (*stored)[k] = fold[k];
      fold = std::move(*stored);
    }
    answer(std::move(fold));
  });
}

void Api::AddPass(json* entry, const std::string& user) const {
  if (!options_.pass || !entry->is_object() || entry->value("status", "") != kWon ||
      entry->value("user", "") != user)
    return;
  auto pos = entry->find("position");
  auto campaign = entry->find("campaign");
  if (pos == entry->end() || !pos->is_number_unsigned() || campaign == entry->end() ||
      !campaign->is_string())
    return;
  // A held win's pass expires with its hold.
  const uint64_t hold_until_ms = entry->value("hold_until_ms", uint64_t{0});
  (*entry)["pass"] = options_.pass->Mint(campaign->get<std::string>(), pos->get<uint64_t>(), user,
                                         absl::ToUnixSeconds(absl::Now()),
                                         static_cast<int64_t>(hold_until_ms / 1000));
}

// The public key of the admission passes, for shops to verify them offline.
void Api::GetJwks(const CallPtr& c) {
  if (!options_.pass) return c->Error(404, "no_passes", "this server signs no passes");
  c->headers.emplace_back("Cache-Control", "public, max-age=300");
  c->Json(200, options_.pass->key.Jwks());
}

void Api::GetCampaign(const CallPtr& c) {
  json body;
  if (WithCampaign(c, [&](const CampaignState& cs) { body = CampaignJson(cs); }))
    c->Json(200, body);
}

void Api::GetRanking(const CallPtr& c) {
  uint64_t offset, limit;
  if (!QueryUint(c, "offset", 0, UINT32_MAX, &offset) ||
      !QueryUint(c, "limit", 100, options_.page_max, &limit))
    return;
  RankingView v;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        uint64_t last = cs.snap.last_position();
        v.serving = cs.snap.serving();
        v.total = last;
        for (uint64_t p = offset + 1; p <= last && v.items.size() < limit; ++p)
          v.items.emplace_back(p, std::string(cs.user_at(p)), EntryStatusName(cs.status[p - 1]));
      }))
    return;
  auto answer = [c, offset](const RankingView& v) {
    json items = json::array();
    for (const auto& [p, user, status] : v.items)
      items.push_back({{"position", p}, {"user", user}, {"status", status}});
    json body = {{"campaign", c->campaign},
                 {"serving", v.serving},
                 {"total", v.total},
                 {"offset", offset},
                 {"items", items}};
    if (offset + v.items.size() < v.total) body["next_offset"] = offset + v.items.size();
    c->Json(200, body);
  };
  if (!options_.read_model) return answer(v);
  options_.offload([this, c, v = std::move(v), offset, limit, answer]() mutable {
    const uint64_t seq = FoldSequence(c->partition);
    auto stored = options_.read_model->Ranking(c->partition, seq, c->campaign, offset, limit);
    CountRead("ranking", stored.status(), options_.read_model->entry_source());
    if (stored.ok()) v = std::move(*stored);
    answer(v);
  });
}

void Api::GetResults(const CallPtr& c) {
  uint64_t cursor, limit;
  if (!QueryUint(c, "cursor", 0, UINT64_MAX >> 1, &cursor) ||
      !QueryUint(c, "limit", 100, options_.page_max, &limit))
    return;
  const std::string outcome = c->req.Query("outcome").value_or("");
  int want = -1;
  if (EntryStatus decided = EntryStatus::kQueued; ParseDecidedStatus(outcome, &decided)) {
    want = static_cast<int>(decided);
  } else if (outcome == kAdmitted) {
    want = static_cast<int>(EntryStatus::kAdmitted);
  } else if (outcome == kChoiceExpired) {
    want = static_cast<int>(EntryStatus::kChoiceExpired);
  } else if (!outcome.empty()) {
    return c->Error(400, "invalid_query",
                    absl::StrCat("outcome must be ", kWon, ", ", kConfirmed, ", ", kExpired, ", ",
                                 kWaitlisted, ", ", kLost, ", ", kSoldOut, ", ", kCancelled, ", ",
                                 kAdmitted, " or ", kChoiceExpired));
  }
  // ?item=ID: only the entries of that item (asked for at entry or chosen).
  const std::string item = c->req.Query("item").value_or("");
  if (c->req.Query("item") && (item.empty() || !ValidateItemId(item, backend_->limits()).ok()))
    return c->Error(400, "invalid_query",
                    "item must be an item id (1..32 bytes of [A-Za-z0-9._-])");
  ResultsView v;
  std::vector<std::pair<std::string, uint32_t>> asks;  // per row, with items
  bool has_items = false, unknown_item = false;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        has_items = cs.items() > 0;
        int item_index = -1;
        if (c->req.Query("item")) {
          item_index = cs.ItemIndex(item);
          if (item_index < 0) {
            unknown_item = true;
            return;
          }
        }
        uint64_t serving = cs.snap.serving();
        uint64_t p = cursor + 1;
        // Bound the scan: a rare outcome must not make one request walk millions.
        uint64_t scan_end = std::min(serving, cursor + 100'000);
        for (; p <= scan_end && v.items.size() < limit; ++p) {
          EntryStatus st = cs.status[p - 1];
          if (want >= 0 && static_cast<int>(st) != want) continue;
          const bool chose = has_items && cs.item_of[p - 1] != 0;
          if (item_index >= 0 && (!chose || cs.ItemAt(p) != static_cast<size_t>(item_index)))
            continue;
          v.items.emplace_back(p, std::string(cs.user_at(p)), EntryStatusName(st));
          if (has_items)
            asks.emplace_back(
                chose ? cs.snap.config().items(static_cast<int>(cs.ItemAt(p))).id() : std::string(),
                chose ? cs.QuantityAt(p) : 0);
        }
        if (p <= serving) v.next_cursor = p - 1;
      }))
    return;
  if (unknown_item)
    return c->Error(404, "unknown_item",
                    absl::StrCat("no item '", item, "' in campaign '", c->campaign, "'"));
  auto answer = [c](const ResultsView& v, const std::vector<std::pair<std::string, uint32_t>>& a) {
    json items = json::array();
    for (size_t i = 0; i < v.items.size(); ++i) {
      const auto& [p, user, status] = v.items[i];
      json row = {{"position", p}, {"user", user}, {"outcome", status}};
      if (i < a.size() && !a[i].first.empty()) {
        row["item_id"] = a[i].first;
        row["quantity"] = a[i].second;
      }
      items.push_back(std::move(row));
    }
    json body = {{"campaign", c->campaign}, {"items", items}};
    if (v.next_cursor) body["next_cursor"] = *v.next_cursor;
    c->Json(200, body);
  };
  // A campaign with items is answered from the fold: the read models keep no
  // item per entry yet (api/read_model.h).
  if (!options_.read_model || has_items) return answer(v, asks);
  options_.offload([this, c, v = std::move(v), cursor, limit, outcome, answer]() mutable {
    const uint64_t seq = FoldSequence(c->partition);
    auto stored =
        options_.read_model->Results(c->partition, seq, c->campaign, cursor, limit, outcome);
    CountRead("results", stored.status(), options_.read_model->results_source());
    if (stored.ok()) v = std::move(*stored);
    answer(v, {});
  });
}

}  // namespace tl::api
