// A user's entry: enter, cancel, and the answer to a request.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/api.h"
#include "api/views.h"
#include "engine/core/limits.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

// An item and quantity in a body ({"item_id","quantity"}): checked here so a
// 400 names the field; whether the campaign has that item and allows that
// quantity is the engine's decision (404 unknown_item, 422
// quantity_over_limit). `item_required`: no item is an error.
bool Api::ReadItemAsk(const CallPtr& c, const json& body, bool item_required, std::string* item_id,
                      uint32_t* quantity) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "item_id" && it.key() != "quantity") {
      c->Error(400, "unknown_field", absl::StrCat("unknown field '", it.key().substr(0, 64), "'"));
      return false;
    }
  }
  const Limits& lim = backend_->limits();
  if (auto it = body.find("item_id"); it != body.end()) {
    if (!it->is_string() || !ValidateItemId(it->get<std::string>(), lim).ok()) {
      c->Error(400, "invalid_field",
               absl::StrCat("field 'item_id' must be an item id (1..", lim.item_id_bytes_max,
                            " bytes of [A-Za-z0-9._-])"));
      return false;
    }
    *item_id = it->get<std::string>();
  } else if (item_required) {
    c->Error(400, "missing_field", "field 'item_id' (string) is required");
    return false;
  }
  if (auto it = body.find("quantity"); it != body.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 ||
        it->get<uint64_t>() > lim.quantity_max) {
      c->Error(400, "invalid_field",
               absl::StrCat("field 'quantity' must be an integer 1..", lim.quantity_max));
      return false;
    }
    *quantity = static_cast<uint32_t>(it->get<uint64_t>());
  }
  return true;
}

void Api::PostEntry(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  json body;
  if (!ReadBody(c, &body)) return;
  std::string item_id;
  uint32_t quantity = 0;
  if (!ReadItemAsk(c, body, false, &item_id, &quantity)) return;
  size_t items = 0;
  bool on_admission = false;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        items = cs.items();
        on_admission = cs.on_admission();
      }))
    return;
  if (on_admission && (!item_id.empty() || quantity != 0))
    return c->Error(422, "invalid_combination",
                    "this campaign lets the admitted choose (choose on_admission): enter without "
                    "'item_id' and 'quantity', choose at POST .../entries/me/choice");
  if (items > 0 && !on_admission && item_id.empty())
    return c->Error(400, "missing_field",
                    "field 'item_id' is required: this campaign sells items (choose at_entry)");
  if (items == 0 && (!item_id.empty() || quantity > 1))
    return c->Error(422, "invalid_combination",
                    "this campaign has no items: enter without 'item_id' (and 'quantity' 1)");
  pb::Command cmd;
  auto* req = cmd.mutable_request_entry();
  req->set_user_id(c->claims.sub);
  if (items > 0) {
    req->set_item_id(item_id);
    req->set_quantity(quantity);
  }
  Submit(c, std::move(cmd), PreferWait(c), 200);
}

// POST /v1/campaigns/{id}/entries/me/choice: an admitted user picks an item
// (choose on_admission). The engine decides: won, or 409 item_full (choose
// again), not_admitted, choice_expired, already_chosen; 404 unknown_item;
// 422 quantity_over_limit.
void Api::PostChoice(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  json body;
  if (!ReadBody(c, &body)) return;
  std::string item_id;
  uint32_t quantity = 0;
  if (!ReadItemAsk(c, body, true, &item_id, &quantity)) return;
  bool on_admission = false;
  if (!WithCampaign(c, [&](const CampaignState& cs) { on_admission = cs.on_admission(); })) return;
  if (!on_admission)
    return c->Error(422, "invalid_combination",
                    "this campaign does not choose on admission: name the item when entering");
  pb::Command cmd;
  auto* ch = cmd.mutable_choose_item();
  ch->set_user_id(c->claims.sub);
  ch->set_item_id(item_id);
  ch->set_quantity(quantity);
  Submit(c, std::move(cmd), std::max(PreferWait(c), 5), 200);
}

void Api::CancelEntry(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  cmd.mutable_cancel_entry()->set_user_id(c->claims.sub);
  Submit(c, std::move(cmd), PreferWait(c), 200);
}

void Api::GetRequest(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  const std::string ref = c->params.at(1);
  std::vector<absl::string_view> parts = absl::StrSplit(ref, '-');
  int partition = 0;
  uint64_t offset = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &partition) ||
      !absl::SimpleAtoi(parts[1], &offset) || partition != c->partition)
    return c->Error(400, "invalid_request_ref", "a request reference is <partition>-<offset>");
  // The commands log and the ledger may be Kafka: read them off the loops.
  options_.offload([this, c, ref, partition, offset] {
    absl::StatusOr<uint64_t> end = backend_->commands()->EndOffset(partition);
    if (!end.ok() || offset >= *end) return c->Error(404, "unknown_request", "no such request");
    uint64_t decided = 0;
    backend_->WithState(partition,
                        [&](const EngineState&, uint64_t decided_end) { decided = decided_end; });
    if (offset >= decided) return c->Json(200, {{"status", kPending}, {"request", ref}});
    pb::Command cmd;
    std::vector<LogRecord> recs;
    if (absl::Status st = backend_->commands()->Read(partition, offset, 1, &recs); !st.ok())
      return c->Error(500, "commands_unreadable", st.message());
    if (recs.empty() || !cmd.ParseFromString(recs[0].value) || cmd.campaign_id() != c->campaign)
      return c->Error(404, "unknown_request", "no such request in this campaign");
    // Only the requester (or an admin) may read a request's answer.
    if (!c->claims.admin &&
        !((cmd.has_request_entry() && cmd.request_entry().user_id() == c->claims.sub) ||
          (cmd.has_cancel_entry() && cmd.cancel_entry().user_id() == c->claims.sub) ||
          (cmd.has_choose_item() && cmd.choose_item().user_id() == c->claims.sub) ||
          (cmd.has_confirm_entry() && cmd.actor() == c->claims.sub)))
      return c->Error(403, "forbidden", "this request is not yours");
    // A confirmation's answer is about the user it names.
    const std::string subject =
        cmd.has_confirm_entry() ? cmd.confirm_entry().user_id() : c->claims.sub;
    std::vector<pb::Event> events;
    if (absl::Status st =
            AnswerOf(partition, offset, c->campaign, cmd.actor(), cmd.idempotency_key(), &events);
        !st.ok())
      return c->Error(500, "ledger_unreadable", st.message());
    int status = 0;
    json body;
    backend_->WithState(partition, [&](const EngineState& s, uint64_t) {
      std::tie(status, body) = DescribeDecision(events, subject, s.Find(c->campaign), 200);
    });
    body["request"] = ref;
    c->Json(status, body);
  });
}

}  // namespace tl::api
