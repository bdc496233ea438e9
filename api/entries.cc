// A user's entry: enter, cancel, and the answer to a request.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/api.h"
#include "api/views.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

void Api::PostEntry(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  json body;
  if (!ReadBody(c, &body)) return;
  if (!body.empty())
    return c->Error(400, "unknown_field", absl::StrCat("unknown field '", body.begin().key(), "'"));
  if (!WithCampaign(c, [](const CampaignState&) {})) return;
  pb::Command cmd;
  cmd.mutable_request_entry()->set_user_id(c->claims.sub);
  Submit(c, std::move(cmd), PreferWait(c), 200);
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
