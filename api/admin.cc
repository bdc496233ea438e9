// The operator's routes: create a campaign; close, reveal, restock, pause,
// resume one. Admin tokens only.
#include <set>

#include "absl/strings/str_cat.h"
#include "api/api.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

void Api::AdminCreate(const CallPtr& c) {
  if (!Authenticate(c, true)) return;
  json b;
  if (!ReadBody(c, &b)) return;
  static const std::set<std::string> kFields = {
      "id",       "title",       "stock",       "win_bps",
      "queueing", "opens_at_ms", "max_entries", "admission_rate_per_s"};
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!kFields.contains(it.key()))
      return c->Error(400, "unknown_field", absl::StrCat("unknown field '", it.key(), "'"));
  }
  auto uint_field = [&](const char* name, uint64_t max, bool required, uint64_t* out) {
    auto it = b.find(name);
    if (it == b.end()) {
      if (required) c->Error(400, "missing_field", absl::StrCat("field '", name, "' is required"));
      return !required;
    }
    if (!it->is_number_unsigned() || it->get<uint64_t>() > max) {
      c->Error(400, "invalid_field",
               absl::StrCat("field '", name, "' must be an integer 0..", max));
      return false;
    }
    *out = it->get<uint64_t>();
    return true;
  };
  if (!b.contains("id") || !b["id"].is_string())
    return c->Error(400, "missing_field", "field 'id' (string) is required");
  c->campaign = b["id"].get<std::string>();
  if (absl::Status st = ValidateCampaignId(c->campaign, backend_->limits()); !st.ok())
    return c->Error(400, "invalid_campaign_id", st.message());
  c->partition = PartitionFor(c->campaign, backend_->partitions());
  pb::Command cmd;
  auto* cc = cmd.mutable_create_campaign();
  uint64_t stock = 0, bps = 0, rate = 0, opens = 0, max_entries = 0;
  const Limits& lim = backend_->limits();
  if (!uint_field("stock", lim.stock_max, true, &stock) ||
      !uint_field("win_bps", 10000, true, &bps) ||
      !uint_field("admission_rate_per_s", lim.admission_rate_per_s_max, false, &rate) ||
      !uint_field("opens_at_ms", UINT64_MAX >> 1, false, &opens) ||
      !uint_field("max_entries", lim.entries_per_campaign_max, false, &max_entries))
    return;
  if (b.contains("title")) {
    if (!b["title"].is_string())
      return c->Error(400, "invalid_field", "field 'title' must be a string");
    cc->set_title(b["title"].get<std::string>());
  }
  if (b.contains("queueing")) {
    pb::Queueing q = pb::QUEUEING_FIFO;
    if (!b["queueing"].is_string() || !ParseQueueing(b["queueing"].get<std::string>(), &q))
      return c->Error(
          400, "invalid_field",
          absl::StrCat("field 'queueing' must be \"", kFifo, "\" or \"", kRandom, "\""));
    cc->set_queueing(q);
  }
  cc->set_stock(stock);
  cc->set_win_bps(static_cast<uint32_t>(bps));
  cc->set_admission_rate_per_s(static_cast<uint32_t>(rate));
  cc->set_opens_at_ms(opens);
  cc->set_max_entries(max_entries);
  absl::StatusOr<std::string> nonce = NewSeedNonce();
  if (!nonce.ok()) return c->Error(503, "no_randomness", nonce.status().message());
  cc->set_seed_nonce(*std::move(nonce));
  Submit(c, std::move(cmd), std::max(PreferWait(c), 5), 201);
}

void Api::AdminCommand(const CallPtr& c) {
  const std::string& action = c->params.at(1);
  static const std::set<std::string> kActions = {"close", "reveal", "restock", "pause", "resume"};
  if (!kActions.contains(action))
    return c->Error(404, "not_found",
                    absl::StrCat("no admin action '", action.substr(0, 64),
                                 "' (close, reveal, restock, pause, resume)"));
  if (!Authenticate(c, true)) return;
  json b;
  if (!ReadBody(c, &b)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  if (action == "restock") {
    auto it = b.find("units");
    if (it == b.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0)
      return c->Error(400, "invalid_field", "field 'units' must be an integer > 0");
    cmd.mutable_restock()->set_units(it->get<uint64_t>());
  } else if (!b.empty()) {
    return c->Error(400, "unknown_field", absl::StrCat("unknown field '", b.begin().key(), "'"));
  } else if (action == "close") {
    cmd.mutable_close_campaign();
  } else if (action == "reveal") {
    cmd.mutable_reveal_seed();
  } else if (action == "pause") {
    cmd.mutable_pause_admission();
  } else if (action == "resume") {
    cmd.mutable_resume_admission();
  }
  Submit(c, std::move(cmd), std::max(PreferWait(c), 5), 200);
}

}  // namespace tl::api
