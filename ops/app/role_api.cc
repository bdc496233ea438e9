// Role api: HTTP over Kafka. Commands go to the commands topic; reads are
// folded from the ledger by a follower.
#include "ops/app/backends.h"
#include "ops/app/http_api.h"
#include "ops/app/kafka_logs.h"
#include "ops/app/roles.h"

namespace tl::app {
namespace {

class ApiRole final : public Role {
 public:
  absl::Status Open(const Host& host) override {
    if (absl::Status st = OpenKafkaLogs(*host.settings, host.metrics, &logs_); !st.ok()) return st;
    follower_ = NewLedgerFollower(logs_, *host.settings);
    backend_ = std::make_unique<SplitBackend>(logs_.commands.get(), logs_.ledger.get(),
                                              follower_.get(), host.settings->node.limits);
    return api_.Open(host, backend_.get(), nullptr);
  }

  void Start() override { follower_->Start(); }
  absl::Status Serve() override { return api_.Serve(); }
  void Quiesce() override { api_.Quiesce(); }

  absl::Status Stop() override {
    follower_->Stop();
    api_.Reset();
    backend_.reset();
    return absl::OkStatus();
  }

  std::string Where() const override { return logs_.where; }

 private:
  KafkaLogs logs_;
  std::unique_ptr<LedgerFollower> follower_;
  std::unique_ptr<api::ApiBackend> backend_;
  HttpApi api_;
};

}  // namespace

std::unique_ptr<Role> NewApiRole() { return std::make_unique<ApiRole>(); }

}  // namespace tl::app
