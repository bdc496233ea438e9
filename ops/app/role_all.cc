// Role all: the HTTP api and the engine on the embedded log in one process,
// and the read models when stores are configured.
#include "engine/runtime/node.h"
#include "ops/app/backends.h"
#include "ops/app/http_api.h"
#include "ops/app/projections.h"
#include "ops/app/roles.h"

namespace tl::app {
namespace {

class AllRole final : public Role {
 public:
  absl::Status Open(const Host& host) override {
    data_dir_ = host.settings->node.data_dir;
    auto opened = Node::Open(host.settings->node);
    if (!opened.ok()) return opened.status();
    node_ = std::move(*opened);
    node_->engine().set_ticker(CountedTicker(*host.settings, host.metrics));
    backend_ = std::make_unique<NodeBackend>(node_.get());
    if (absl::Status st = projections_.Start(*host.settings, node_->log().ledger()); !st.ok())
      return st;
    return api_.Open(host, backend_.get(), &projections_);
  }

  void Start() override { node_->engine().Start(); }
  absl::Status Serve() override { return api_.Serve(); }
  void Quiesce() override { api_.Quiesce(); }

  absl::Status Stop() override {
    // Everything acknowledged is already durable in the commands log; let the
    // engine decide it before stopping so a restart has nothing to catch up.
    Engine& engine = node_->engine();
    for (int p = 0; p < engine.partitions(); ++p) {
      absl::StatusOr<uint64_t> end = node_->log().commands()->EndOffset(p);
      if (end.ok()) (void)engine.WaitForCommands(p, *end, absl::Seconds(30));
    }
    engine.Stop();
    absl::Status st = engine.status();
    projections_.Stop();
    api_.Reset();
    backend_.reset();
    node_.reset();
    return st;
  }

  std::string Where() const override { return "data dir " + data_dir_; }

 private:
  std::string data_dir_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<api::ApiBackend> backend_;
  Projections projections_;
  HttpApi api_;
};

}  // namespace

std::unique_ptr<Role> NewAllRole() { return std::make_unique<AllRole>(); }

}  // namespace tl::app
