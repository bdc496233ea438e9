#include "api/api.h"

#include "api/views.h"
#include "engine/core/names.h"

namespace tl::api {

Api::Api(ApiBackend* backend, ApiOptions options, Metrics* metrics)
    : backend_(backend),
      options_(std::move(options)),
      metrics_(metrics),
      user_limiter_(options_.user_rate_per_s, options_.user_burst),
      ip_limiter_(options_.ip_rate_per_s, options_.ip_burst),
      idempotency_(options_.idempotency_keys_max),
      appender_(backend->commands(), options_.append_queue_max, options_.append_writers,
                [metrics](size_t records, double seconds) {
                  metrics->Observe("ticketledger_log_append_seconds", {}, seconds);
                  metrics->Add("ticketledger_log_append_records_total", {},
                               static_cast<double>(records));
                }),
      decisions_(backend->partitions()),
      live_(
          backend,
          [&] {
            LiveOptions live = options_.live;
            live.pass = options_.pass;
            return live;
          }(),
          metrics),
      export_cursors_(NewExportCursors()),
      proof_trees_(NewProofTrees()) {
  DeclareLimitHits(metrics_);  // the append queue and live streams refuse too
  metrics_->Declare("ticketledger_log_append_seconds", "histogram",
                    "Durable append of one batch of commands (group commit)");
  metrics_->Declare("ticketledger_log_append_records_total", "counter",
                    "Commands appended durably (divide by the histogram's count for the batch)");
  metrics_->Declare("ticketledger_log_append_errors_total", "counter", "Failed command appends");
  // From 0, not from the first error: increase() (the alert TicketledgerAppendErrors) sees it.
  metrics_->Add("ticketledger_log_append_errors_total", {}, 0);
  metrics_->Declare("ticketledger_append_queue", "gauge", "Commands waiting to be appended");
  metrics_->Declare("ticketledger_decision_waiters", "gauge",
                    "Requests waiting for a decision (Prefer: wait)");
  metrics_->Declare("ticketledger_engine_lag_commands", "gauge",
                    "Commands appended but not yet decided, per partition");
  DeclareEngineEvents(metrics_);
  metrics_->Declare("ticketledger_draws_total", "counter", "Draws by campaign and outcome");
  metrics_->Declare("ticketledger_stock_left", "gauge", "Stock left by campaign");
  metrics_->Declare("ticketledger_reads_total", "counter",
                    "Entry, ranking and results reads by source: a read model (redis, postgres) "
                    "or the api's own fold (no read model, or it was behind or away)");
  backend_->OnProgress([this](int partition, uint64_t decided_end) {
    decisions_.Progress(partition, decided_end);
    live_.Progress(partition);
  });
}

Api::~Api() { Stop(); }

const std::vector<Api::Route>& Api::Routes() {
  static const std::vector<Route> kRoutes = {
      {"POST", "/v1/campaigns/{id}/entries", "post_entry", &Api::PostEntry},
      {"GET", "/v1/campaigns/{id}/entries/me", "get_entry", &Api::GetMyEntry},
      {"DELETE", "/v1/campaigns/{id}/entries/me", "cancel_entry", &Api::CancelEntry},
      {"POST", "/v1/campaigns/{id}/entries/me/choice", "post_choice", &Api::PostChoice},
      {"GET", "/v1/campaigns/{id}/entries/me/proof", "get_proof", &Api::GetProof},
      {"GET", "/v1/campaigns/{id}/requests/{ref}", "get_request", &Api::GetRequest},
      {"POST", "/v1/campaigns/{id}/confirmations", "confirm", &Api::PostConfirmation},
      {"GET", "/v1/campaigns/{id}/events", "events", &Api::StreamEvents},
      {"GET", "/v1/campaigns/{id}/live", "live", &Api::StreamWebSocket},
      {"POST", "/v1/campaigns/{id}/stream-tickets", "stream_ticket", &Api::StreamTicket},
      {"GET", "/v1/campaigns/{id}/ranking", "ranking", &Api::GetRanking},
      {"GET", "/v1/campaigns/{id}/results", "results", &Api::GetResults},
      {"GET", "/v1/campaigns/{id}/ledger", "ledger", &Api::GetLedger},
      {"GET", "/v1/campaigns/{id}", "get_campaign", &Api::GetCampaign},
      {"GET", "/v1/campaigns", "list_campaigns", &Api::ListCampaigns},
      {"POST", "/v1/admin/campaigns", "admin_create", &Api::AdminCreate},
      {"POST", "/v1/admin/campaigns/{id}/{action}", "admin_command", &Api::AdminCommand},
      {"GET", "/v1/admin/overview", "admin_overview", &Api::AdminOverview},
      {"GET", "/v1/session", "get_session", &Api::GetSession},
      {"POST", "/v1/session", "post_session", &Api::PostSession},
      {"DELETE", "/v1/session", "delete_session", &Api::DeleteSession},
      {"POST", "/v1/dev/session", "dev_session", &Api::DevSession},
      {"GET", "/.well-known/jwks.json", "jwks", &Api::GetJwks},
  };
  return kRoutes;
}

void Api::Register(Router* router) {
  for (const Route& r : Routes()) {
    router->Add({r.method, r.path, r.name, [this, fn = r.fn](const CallPtr& c) { Run(fn, c); }});
  }
}

void Api::Start() { live_.Start(); }

void Api::Stop() {
  // In this order: what the appender still stores may wait for a decision,
  // and what waits for a decision may wait for an outcome.
  appender_.Stop();
  decisions_.Stop();
  live_.Stop();
}

absl::Status Api::Ready() { return backend_->Ready(); }

void Api::RefreshMetrics() {
  metrics_->Set("ticketledger_append_queue", {}, static_cast<double>(appender_.queued()));
  metrics_->Set("ticketledger_decision_waiters", {}, static_cast<double>(decisions_.waiting()));
  for (int p = 0; p < backend_->partitions(); ++p) {
    absl::StatusOr<uint64_t> end = backend_->commands()->EndOffset(p);
    backend_->WithState(p, [&](const EngineState& s, uint64_t decided_end) {
      Labels part = {{"partition", std::to_string(p)}};
      if (end.ok())
        metrics_->Set("ticketledger_engine_lag_commands", part,
                      static_cast<double>(*end > decided_end ? *end - decided_end : 0));
      metrics_->Set("ticketledger_engine_events_total", part,
                    static_cast<double>(s.next_sequence - 1));
      for (const auto& [id, cs] : s.campaigns) {
        metrics_->Set("ticketledger_stock_left", {{"campaign", id}},
                      static_cast<double>(cs->snap.stock_left()));
        for (auto [name, v] : {std::pair{kWon, cs->snap.won()},
                               {kLost, cs->snap.lost()},
                               {kSoldOut, cs->snap.sold_out()}}) {
          metrics_->Set("ticketledger_draws_total", {{"campaign", id}, {"outcome", name}},
                        static_cast<double>(v));
        }
      }
    });
  }
  if (options_.extra_metrics) options_.extra_metrics(metrics_);
}

}  // namespace tl::api
