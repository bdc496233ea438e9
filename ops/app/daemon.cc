#include "ops/app/daemon.h"

#include <sys/resource.h>

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ops/app/projections.h"

namespace tl::app {
namespace {

std::unique_ptr<Role> NewRole(const std::string& name) {
  if (name == "api") return NewApiRole();
  if (name == "engine") return NewEngineRole();
  if (name == "projector") return NewProjectorRole();
  return NewAllRole();
}

}  // namespace

Daemon::Daemon(Settings settings) : settings_(std::move(settings)) {}

Daemon::~Daemon() = default;

absl::StatusOr<int> Daemon::Start() {
  metrics_.Declare("ticketledger_kafka_produce_errors_total", "counter",
                   "Kafka appends that failed (produce, delivery or transaction errors)");
  Projections::DeclareMetrics(&metrics_);
  Host host;
  host.settings = &settings_;
  host.metrics = &metrics_;
  host.router = &router_;
  host.ops = &ops_;
  host.offload = [this](std::function<void()> fn) { boost::asio::post(blocking_, std::move(fn)); };
  role_ = NewRole(settings_.role);
  if (absl::Status st = role_->Open(host); !st.ok()) return st;
  api::RegisterOpsRoutes(&router_, &metrics_, ops_, host.offload);
  role_->Start();
  api::CorsPolicy cors;
  cors.origins.insert(settings_.cors_origins.begin(), settings_.cors_origins.end());
  http::ServerOptions server = settings_.server;
  server.access_log = settings_.access_log;
  http_ = std::make_unique<http::Server>(
      server, router_.Handler(&metrics_, cors, settings_.access_log), &metrics_);
  absl::StatusOr<int> port = http_->Listen();
  if (!port.ok()) return port.status();
  if (absl::Status st = role_->Serve(); !st.ok()) return st;
  http_->Start();
  return port;
}

std::string Daemon::StartLine(int port) const {
  return absl::StrFormat("listening on %s:%d (role %s, %s, %d event loops, %zu connections max)",
                         settings_.server.host, port, settings_.role, role_->Where(),
                         http_->options().io_threads, http_->options().connections_max);
}

absl::Status Daemon::Stop() {
  // The api first, while the server runs: it stores and answers what is
  // queued and lets go of the streams. Then the server; its connections end
  // (closing streams tell the api's hub, so the api goes after it).
  role_->Quiesce();
  blocking_.join();  // answers computed off the loops reach them before they stop
  http_->Stop();
  http_.reset();
  return role_->Stop();
}

void RaiseOpenFileLimit() {
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace tl::app
