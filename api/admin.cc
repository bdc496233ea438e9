// The operator's routes: create a campaign; close, reveal, restock, pause,
// resume one. Admin tokens only. (Confirmations, the shop's route, are in
// confirm.cc.)
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
  static const std::set<std::string> kFields = {"id",
                                                "title",
                                                "stock",
                                                "win_bps",
                                                "queueing",
                                                "opens_at_ms",
                                                "max_entries",
                                                "hold_s",
                                                "draw",
                                                "entropy_source",
                                                "admission_rate_per_s"};
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
  uint64_t stock = 0, bps = 0, rate = 0, opens = 0, max_entries = 0, hold_s = 0;
  const Limits& lim = backend_->limits();
  if (!uint_field("stock", lim.stock_max, true, &stock) ||
      !uint_field("win_bps", 10000, true, &bps) ||
      !uint_field("admission_rate_per_s", lim.admission_rate_per_s_max, false, &rate) ||
      !uint_field("opens_at_ms", UINT64_MAX >> 1, false, &opens) ||
      !uint_field("max_entries", lim.entries_per_campaign_max, false, &max_entries) ||
      !uint_field("hold_s", lim.hold_s_max, false, &hold_s))
    return;
  pb::Draw draw = pb::DRAW_INSTANT;
  if (b.contains("draw") &&
      (!b["draw"].is_string() || !ParseDraw(b["draw"].get<std::string>(), &draw)))
    return c->Error(400, "invalid_field",
                    absl::StrCat("field 'draw' must be \"", kInstant, "\" or \"", kAtClose, "\""));
  if (b.contains("entropy_source")) {
    const json& e = b["entropy_source"];
    if (!e.is_string() || e.get<std::string>().size() > lim.entropy_source_bytes_max)
      return c->Error(400, "invalid_field",
                      absl::StrCat("field 'entropy_source' must be a string of at most ",
                                   lim.entropy_source_bytes_max, " bytes"));
    cc->set_entropy_source(e.get<std::string>());
  }
  // Fields that are each fine but not together (the engine refuses them too).
  if (draw == pb::DRAW_AT_CLOSE && rate != 0)
    return c->Error(422, "invalid_combination",
                    "field 'draw' \"at_close\" needs 'admission_rate_per_s' 0 (everyone is drawn "
                    "at close, nobody is admitted before)");
  if (!cc->entropy_source().empty() && draw != pb::DRAW_AT_CLOSE)
    return c->Error(422, "invalid_combination",
                    "field 'entropy_source' needs 'draw' \"at_close\" (an instant draw cannot "
                    "wait for a value published later)");
  cc->set_hold_s(static_cast<uint32_t>(hold_s));
  cc->set_draw(draw);
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
  std::string entropy_source;
  if (!WithCampaign(
          c, [&](const CampaignState& cs) { entropy_source = cs.snap.config().entropy_source(); }))
    return;
  pb::Command cmd;
  if (action == "restock") {
    auto it = b.find("units");
    if (it == b.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0)
      return c->Error(400, "invalid_field", "field 'units' must be an integer > 0");
    cmd.mutable_restock()->set_units(it->get<uint64_t>());
  } else if (action == "close") {
    for (auto it = b.begin(); it != b.end(); ++it) {
      if (it.key() != "entropy_value")
        return c->Error(400, "unknown_field", absl::StrCat("unknown field '", it.key(), "'"));
    }
    // The value the committed entropy source published: required iff the
    // campaign committed to one (the at-close draw is keyed with it).
    auto v = b.find("entropy_value");
    const size_t max = backend_->limits().entropy_value_bytes_max;
    if (v == b.end() && !entropy_source.empty())
      return c->Error(422, "missing_entropy_value",
                      absl::StrCat("field 'entropy_value' is required: this campaign committed to "
                                   "the entropy source \"",
                                   entropy_source, "\"; close with the value it published"));
    if (v != b.end() && entropy_source.empty())
      return c->Error(422, "unexpected_entropy_value",
                      "field 'entropy_value': this campaign committed to no entropy source, so its "
                      "close takes no value");
    if (v != b.end() &&
        (!v->is_string() || v->get<std::string>().empty() || v->get<std::string>().size() > max))
      return c->Error(400, "invalid_field",
                      absl::StrCat("field 'entropy_value' must be a string of 1..", max, " bytes"));
    auto* close = cmd.mutable_close_campaign();
    if (v != b.end()) close->set_entropy_value(v->get<std::string>());
  } else if (!b.empty()) {
    return c->Error(400, "unknown_field", absl::StrCat("unknown field '", b.begin().key(), "'"));
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
