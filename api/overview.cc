// The lists the pages need: every campaign (the index page, public) and the
// operator's overview (the dashboard, admin): what /readyz and /metrics know
// — the engine's partitions, the read models, the Kafka follower — as JSON.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/views.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

namespace {

// Campaigns in id order, after `after`, with status `status` (empty: any),
// at most `limit`; *more: some are left.
std::vector<json> Campaigns(ApiBackend* backend, const std::string& after,
                            const std::string& status, size_t limit, bool* more) {
  std::vector<std::pair<std::string, json>> found;
  for (int p = 0; p < backend->partitions(); ++p) {
    backend->WithState(p, [&](const EngineState& s, uint64_t) {
      // Each partition's map is in id order: at most limit + 1 from each.
      size_t taken = 0;
      for (auto it = s.campaigns.upper_bound(after); it != s.campaigns.end() && taken <= limit;
           ++it) {
        if (!status.empty() && CampaignStatusName(it->second->snap.closed()) != status) continue;
        found.emplace_back(it->first, CampaignJson(*it->second));
        ++taken;
      }
    });
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  *more = found.size() > limit;
  std::vector<json> out;
  for (size_t i = 0; i < found.size() && i < limit; ++i) out.push_back(std::move(found[i].second));
  return out;
}

}  // namespace

void Api::ListCampaigns(const CallPtr& c) {
  uint64_t limit;
  if (!QueryUint(c, "limit", 100, options_.page_max, &limit)) return;
  if (limit == 0)
    return c->Error(400, "invalid_query", "query parameter 'limit' must be 1 or more");
  const std::string status = c->req.Query("status").value_or("");
  if (!status.empty() && status != kOpen && status != kClosed)
    return c->Error(400, "invalid_query",
                    absl::StrCat("query parameter 'status' must be ", kOpen, " or ", kClosed));
  const std::string after = c->req.Query("after").value_or("");
  if (!after.empty()) {
    if (absl::Status st = ValidateCampaignId(after, backend_->limits()); !st.ok())
      return c->Error(400, "invalid_query",
                      absl::StrCat("query parameter 'after': ", st.message()));
  }
  bool more = false;
  json body = {{"campaigns", Campaigns(backend_, after, status, limit, &more)}};
  if (more) body["next_after"] = body["campaigns"].back()["id"];
  c->Json(200, body);
}

void Api::AdminOverview(const CallPtr& c) {
  if (!Authenticate(c, true)) return;
  // The commands' ends may ask Kafka: off the event loops.
  options_.offload([this, c] {
    json body = {{"server_time_ms", absl::ToUnixMillis(absl::Now())}, {"role", options_.role}};
    absl::Status ready = backend_->Ready();
    body["ready"] = {{"ok", ready.ok()}, {"reason", std::string(ready.message())}};
    json parts = json::array();
    for (int p = 0; p < backend_->partitions(); ++p) {
      uint64_t decided_end = 0;
      backend_->WithState(p, [&](const EngineState&, uint64_t d) { decided_end = d; });
      json part = {{"partition", p}, {"decided_end", decided_end}};
      if (absl::StatusOr<uint64_t> end = backend_->commands()->EndOffset(p); end.ok()) {
        part["end"] = *end;
        part["lag"] = *end > decided_end ? *end - decided_end : 0;
      } else {
        part["end"] = nullptr;
        part["lag"] = nullptr;
        part["error"] = std::string(end.status().message());
      }
      parts.push_back(std::move(part));
    }
    body["partitions"] = std::move(parts);
    body["projections"] = options_.extra_overview ? options_.extra_overview() : json::array();
    if (std::optional<uint64_t> lag = backend_->ConsumerLag())
      body["kafka"] = {{"consumer_lag", *lag}};
    else
      body["kafka"] = nullptr;
    bool more = false;
    body["campaigns"] = Campaigns(backend_, "", "", kOverviewCampaignsMax, &more);
    body["campaigns_truncated"] = more;
    c->Json(200, body);
  });
}

}  // namespace tl::api
