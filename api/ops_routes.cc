#include "api/ops_routes.h"

#include "api/api.h"

namespace tl::api {

using json = nlohmann::json;

const std::vector<std::pair<std::string, std::string>>& OpsRoutes() {
  static const std::vector<std::pair<std::string, std::string>> kRoutes = {
      {"GET", "/healthz"},
      {"GET", "/readyz"},
      {"GET", "/metrics"},
      {"GET", "/openapi.json"},
      {"GET", "/v1/projection"}};
  return kRoutes;
}

namespace {

// hooks.ready(), also kept in the gauge ticketledger_ready (1 ready, 0 not)
// so an alert sees what /readyz would answer.
absl::Status CheckReady(const OpsHooks& hooks, Metrics* metrics) {
  absl::Status st = hooks.ready ? hooks.ready() : absl::OkStatus();
  metrics->Set("ticketledger_ready", {}, st.ok() ? 1 : 0);
  return st;
}

}  // namespace

void RegisterOpsRoutes(Router* router, Metrics* metrics, OpsHooks hooks, Offload offload) {
  metrics->Declare("ticketledger_ready", "gauge",
                   "1 if this process is ready (/readyz answers 200), else 0; checked on each "
                   "scrape and each /readyz");
  router->Add({"GET", "/healthz", "healthz", [](const CallPtr& c) {
                 c->Json(200, {{"status", "ok"}});
               }});
  router->Add(
      {"GET", "/readyz", "readyz", [hooks, metrics, offload](const CallPtr& c) {
         offload([hooks, metrics, c] {
           absl::Status st = CheckReady(hooks, metrics);
           if (!st.ok()) return c->Error(503, "not_ready", st.message());
           json body = {{"status", "ready"}};
           // A read model that is behind does not stop writes: still
           // ready, and says which store is behind and by how much.
           if (hooks.read_models) {
             if (absl::Status rm = hooks.read_models(); !rm.ok())
               body["read_models"] = {{"status", "behind"}, {"message", std::string(rm.message())}};
           }
           c->Json(200, body);
         });
       }});
  router->Add({"GET", "/metrics", "metrics", [hooks, metrics, offload](const CallPtr& c) {
                 offload([hooks, metrics, c] {
                   CheckReady(hooks, metrics).IgnoreError();  // only the gauge
                   if (hooks.refresh_metrics) hooks.refresh_metrics();
                   http::Response r;
                   r.content_type = "text/plain; version=0.0.4";
                   r.body = metrics->Render();
                   c->Respond(std::move(r));
                 });
               }});
  router->Add({"GET", "/openapi.json", "openapi", [](const CallPtr& c) {
                 http::Response r;
                 r.body = OpenApiDocument();
                 c->Respond(std::move(r));
               }});
  if (hooks.projection) {
    router->Add({"GET", "/v1/projection", "projection",
                 [hooks](const CallPtr& c) { c->Json(200, hooks.projection()); }});
  }
}

}  // namespace tl::api
