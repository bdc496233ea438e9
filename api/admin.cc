// The operator's routes: create a campaign; close, reveal, restock, pause,
// resume one. Admin tokens only. (Confirmations, the shop's route, are in
// confirm.cc.)
#include <set>

#include "absl/strings/str_cat.h"
#include "api/api.h"
#include "engine/core/limits.h"
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
                                                "admission_rate_per_s",
                                                "items",
                                                "per_user_max",
                                                "choose",
                                                "choose_s"};
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
  // Items (issue 15): each field checked here so a 400 names it; what the
  // fields say together is checked below (422) and by the engine.
  uint64_t per_user_max = 0, choose_s = 0;
  if (!uint_field("per_user_max", lim.quantity_max, false, &per_user_max) ||
      !uint_field("choose_s", lim.choose_s_max, false, &choose_s))
    return;
  pb::Choose choose = pb::CHOOSE_UNSPECIFIED;
  if (b.contains("choose") &&
      (!b["choose"].is_string() || !ParseChoose(b["choose"].get<std::string>(), &choose)))
    return c->Error(
        400, "invalid_field",
        absl::StrCat("field 'choose' must be \"", kAtEntry, "\" or \"", kOnAdmission, "\""));
  if (b.contains("items")) {
    const json& items = b["items"];
    if (!items.is_array() || items.empty() || items.size() > lim.items_per_campaign_max)
      return c->Error(400, "invalid_field",
                      absl::StrCat("field 'items' must be an array of 1..",
                                   lim.items_per_campaign_max, " items"));
    std::set<std::string> ids;
    uint64_t total = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const json& it = items[i];
      const std::string at = absl::StrCat("items[", i, "]");
      if (!it.is_object())
        return c->Error(400, "invalid_field", absl::StrCat("field '", at, "' must be an object"));
      for (auto f = it.begin(); f != it.end(); ++f) {
        if (f.key() != "id" && f.key() != "label" && f.key() != "stock" &&
            f.key() != "per_user_max")
          return c->Error(400, "unknown_field",
                          absl::StrCat("unknown field '", at, ".", f.key().substr(0, 64), "'"));
      }
      auto* item = cc->add_items();
      if (!it.contains("id") || !it["id"].is_string())
        return c->Error(400, "missing_field",
                        absl::StrCat("field '", at, ".id' (string) is required"));
      item->set_id(it["id"].get<std::string>());
      if (absl::Status st = ValidateItemId(item->id(), lim); !st.ok())
        return c->Error(400, "invalid_field", absl::StrCat("field '", at, ".id': ", st.message()));
      if (!ids.insert(item->id()).second)
        return c->Error(
            400, "invalid_field",
            absl::StrCat("field '", at, ".id': item id '", item->id(), "' is used twice"));
      if (it.contains("label")) {
        if (!it["label"].is_string() ||
            it["label"].get<std::string>().size() > lim.item_label_bytes_max)
          return c->Error(400, "invalid_field",
                          absl::StrCat("field '", at, ".label' must be a string of at most ",
                                       lim.item_label_bytes_max, " bytes"));
        item->set_label(it["label"].get<std::string>());
      }
      if (!it.contains("stock") || !it["stock"].is_number_unsigned() ||
          it["stock"].get<uint64_t>() > lim.stock_max)
        return c->Error(
            400, "invalid_field",
            absl::StrCat("field '", at, ".stock' must be an integer 0..", lim.stock_max));
      item->set_stock(it["stock"].get<uint64_t>());
      total += item->stock();
      if (total > lim.stock_max)
        return c->Error(422, "invalid_combination",
                        absl::StrCat("the items' stock adds up to more than ", lim.stock_max));
      if (it.contains("per_user_max")) {
        if (!it["per_user_max"].is_number_unsigned() ||
            it["per_user_max"].get<uint64_t>() > lim.quantity_max)
          return c->Error(400, "invalid_field",
                          absl::StrCat("field '", at, ".per_user_max' must be an integer 0..",
                                       lim.quantity_max));
        item->set_per_user_max(static_cast<uint32_t>(it["per_user_max"].get<uint64_t>()));
      }
    }
    if (stock != 0)
      return c->Error(422, "invalid_combination",
                      "field 'stock' must be 0 with 'items': the campaign's stock is the sum of "
                      "the items' stock");
  } else if (choose != pb::CHOOSE_UNSPECIFIED || choose_s != 0 || per_user_max > 1) {
    return c->Error(422, "invalid_combination",
                    "fields 'choose', 'choose_s' and 'per_user_max' > 1 need 'items'");
  }
  if (choose == pb::CHOOSE_ON_ADMISSION) {
    if (choose_s == 0)
      return c->Error(422, "invalid_combination",
                      absl::StrCat("field 'choose' \"", kOnAdmission, "\" needs 'choose_s' 1..",
                                   lim.choose_s_max));
    if (draw == pb::DRAW_AT_CLOSE)
      return c->Error(422, "invalid_combination",
                      "field 'choose' \"on_admission\" needs 'draw' \"instant\" (the admitted "
                      "choose as they come in)");
  } else if (choose_s != 0) {
    return c->Error(422, "invalid_combination", "field 'choose_s' needs 'choose' \"on_admission\"");
  }
  cc->set_per_user_max(static_cast<uint32_t>(per_user_max));
  cc->set_choose(choose);
  cc->set_choose_s(static_cast<uint32_t>(choose_s));
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
  size_t items = 0;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        entropy_source = cs.snap.config().entropy_source();
        items = cs.items();
      }))
    return;
  pb::Command cmd;
  if (action == "restock") {
    auto it = b.find("units");
    if (it == b.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0)
      return c->Error(400, "invalid_field", "field 'units' must be an integer > 0");
    for (auto f = b.begin(); f != b.end(); ++f) {
      if (f.key() != "units" && f.key() != "item_id")
        return c->Error(400, "unknown_field", absl::StrCat("unknown field '", f.key(), "'"));
    }
    cmd.mutable_restock()->set_units(it->get<uint64_t>());
    if (auto item = b.find("item_id"); item != b.end()) {
      if (!item->is_string() || !ValidateItemId(item->get<std::string>(), backend_->limits()).ok())
        return c->Error(400, "invalid_field",
                        "field 'item_id' must be an item id (1..32 bytes of [A-Za-z0-9._-])");
      if (items == 0)
        return c->Error(422, "invalid_combination", "field 'item_id': this campaign has no items");
      cmd.mutable_restock()->set_item_id(item->get<std::string>());
    } else if (items > 0) {
      return c->Error(400, "missing_field",
                      "field 'item_id' is required: this campaign's stock is per item");
    }
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
