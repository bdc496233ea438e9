// The ops routes without a socket: ticketledger_ready follows what the
// readiness hook says, on /readyz and on each scrape of /metrics, so the
// alert TicketledgerNotReady (ops/prometheus/alerts.yml) sees what /readyz
// would answer.
#include "api/ops_routes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "api/metrics.h"
#include "api/router.h"
#include "tests/support/call_handler.h"
#include "tests/support/promtool.h"

namespace tl::testing {
namespace {

class OpsRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    api::OpsHooks hooks;
    hooks.ready = [this]() -> absl::Status {
      if (ready_) return absl::OkStatus();
      return absl::UnavailableError("log away");
    };
    api::RegisterOpsRoutes(&router_, &metrics_, hooks, [](std::function<void()> fn) { fn(); });
    handler_ = router_.Handler(&metrics_, api::CorsPolicy{});
  }

  http::Response Get(const std::string& path) {
    return testing::CallHandler(handler_, "GET", path);
  }

  std::atomic<bool> ready_{true};
  api::Metrics metrics_;
  api::Router router_;
  http::Handler handler_;
};

TEST_F(OpsRoutes, ReadyGaugeFollowsTheReadinessHookOnScrapeAndReadyz) {
  http::Response m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(SampleLine(m.body, "ticketledger_ready"), "ticketledger_ready 1") << m.body;

  ready_ = false;
  m = Get("/metrics");  // a scrape alone sees the change: no /readyz needed
  EXPECT_EQ(SampleLine(m.body, "ticketledger_ready"), "ticketledger_ready 0") << m.body;
  EXPECT_EQ(Get("/readyz").status, 503);

  ready_ = true;
  EXPECT_EQ(Get("/readyz").status, 200);
  // /readyz itself sets the gauge: the page rendered without a scrape says 1.
  EXPECT_EQ(SampleLine(metrics_.Render(), "ticketledger_ready"), "ticketledger_ready 1");
  ready_ = false;
  EXPECT_EQ(Get("/readyz").status, 503);
  EXPECT_EQ(SampleLine(metrics_.Render(), "ticketledger_ready"), "ticketledger_ready 0");
}

}  // namespace
}  // namespace tl::testing
