// The submit path: a command is queued for the appender and the request is
// answered 202 from the appender's completion, once the command is durable;
// with Prefer: wait=N the answer waits, as a completion, for the engine's
// decision (DecisionWaiters) and, for an entry queued behind an admission
// rate, for its outcome (LiveHub::AwaitOutcome). No thread waits.
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/views.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

void Api::Submit(const CallPtr& c, pb::Command cmd, int wait_s, int ok_status) {
  cmd.set_time_ms(static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));
  cmd.set_campaign_id(c->campaign);
  std::string idem_key, idem_hash;
  if (!CheckIdempotency(c, &idem_key, &idem_hash)) return;
  cmd.set_request_id(std::string(c->req.Header("Idempotency-Key")));
  if (!idem_key.empty()) {  // the engine applies the command once (engine/core/idempotency.h)
    cmd.set_idempotency_key(cmd.request_id());
    cmd.set_actor(c->claims.sub);
    cmd.set_request_hash(idem_hash);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(wait_s);
  const std::string idem_key_sent = cmd.idempotency_key();
  const bool is_entry = cmd.has_request_entry();
  const bool is_choice = cmd.has_choose_item();
  const bool about_entry = is_entry || is_choice || cmd.has_cancel_entry();
  // The user the answer is about: the caller's own entry, or the one a
  // confirmation names.
  const std::string subject =
      cmd.has_confirm_entry() ? cmd.confirm_entry().user_id() : c->claims.sub;

  // Answers, and remembers the answer under the Idempotency-Key.
  auto finish = [this, c, idem_key, idem_hash](int status, const json& body,
                                               const std::string& request_link) {
    http::Response r;
    r.status = status;
    r.body = body.dump();
    if (status == 202) r.Set("Location", request_link);
    if (!idem_key.empty()) idempotency_.Store(idem_key, idem_hash, {status, r.body});
    c->Respond(std::move(r));
  };

  absl::Status queued = appender_.Append(cmd, [=, this](absl::StatusOr<CommandPosition> pos) {
    if (!pos.ok()) {
      metrics_->Add("ticketledger_log_append_errors_total", {});
      c->headers.emplace_back("Retry-After", "1");
      return c->Error(
          503, "log_unavailable",
          absl::StrCat("the command was not stored: ", std::string(pos.status().message())));
    }
    const std::string ref = absl::StrCat(pos->partition, "-", pos->offset);
    const std::string link = absl::StrCat("/v1/campaigns/", c->campaign, "/requests/", ref);
    json accepted = {{"status", kAccepted},
                     {"campaign", c->campaign},
                     {"request", ref},
                     {"links", {{"request", link}}}};
    if (about_entry) {
      accepted["user"] = c->claims.sub;
      accepted["links"]["entry"] = absl::StrCat("/v1/campaigns/", c->campaign, "/entries/me");
    }
    if (wait_s == 0) return finish(202, accepted, link);
    const int p = pos->partition;
    const uint64_t offset = pos->offset;
    decisions_.Wait(p, offset + 1, deadline, [=, this](bool decided) mutable {
      if (!decided) return finish(202, accepted, link);
      // The ledger read may go to Kafka: off the engine's and the loops' threads.
      options_.offload([=, this]() mutable {
        std::vector<pb::Event> events;
        if (absl::Status st =
                AnswerOf(p, offset, c->campaign, c->claims.sub, idem_key_sent, &events);
            !st.ok()) {
          accepted["engine"] = std::string(st.message());  // durable; the link will answer
          return finish(202, accepted, link);
        }
        int status = 0;
        json body;
        bool at_close = false;  // drawn only when the campaign closes: nothing to wait for
        backend_->WithState(c->partition, [&](const EngineState& s, uint64_t) {
          const CampaignState* cs = s.Find(c->campaign);
          std::tie(status, body) = DescribeDecision(events, subject, cs, ok_status);
          at_close = cs && cs->at_close() && !cs->snap.closed();
        });
        body["request"] = ref;
        if (status == 200 && is_entry && !IsDecided(body) && !at_close && absl::Now() < deadline) {
          // Queued behind an admission rate: the answer waits for the draw.
          return live_.AwaitOutcome(c->campaign, c->partition, c->claims.sub, deadline,
                                    [this, c, finish, ref, link](json entry) {
                                      AddPass(&entry, c->claims.sub);
                                      entry["request"] = ref;
                                      finish(200, entry, link);
                                    });
        }
        if (status == 200 && (is_entry || is_choice)) AddPass(&body, c->claims.sub);
        finish(status, body, link);
      });
    });
  });
  if (absl::IsResourceExhausted(queued)) {
    metrics_->Add("ticketledger_http_limit_hits_total", {{"limit", "append_queue"}});
    c->headers.emplace_back("Retry-After", "1");
    return c->Error(503, "overloaded", queued.message());
  }
  if (!queued.ok()) {
    c->headers.emplace_back("Retry-After", "1");
    c->Error(503, "log_unavailable", queued.message());
  }
}

absl::Status Api::AnswerOf(int p, uint64_t offset, const std::string& campaign,
                           const std::string& actor, const std::string& key,
                           std::vector<pb::Event>* out) {
  if (absl::Status st = backend_->EventsFor(p, offset, out); !st.ok()) return st;
  if (!out->empty() || key.empty()) return absl::OkStatus();
  std::optional<uint64_t> original;
  backend_->WithState(p, [&](const EngineState& s, uint64_t) {
    // Any time will do: the engine already decided this was a repeat.
    if (const IdempotencyTable::Entry* e = s.idempotency.Find(actor, campaign, key, 0))
      original = e->command_offset;
  });
  if (!original) return absl::OkStatus();  // forgotten since (bounds): no answer to give
  return backend_->EventsFor(p, *original, out);
}

}  // namespace tl::api
