// /metrics of a real ticketd (role all) after a drop of more than a million
// ledger events: promtool accepts the page and the event counter is exact
// (it once printed 1.02e+06, which Prometheus stores as 1020000). The split
// roles (engine, api, projector) are scraped in split_test.cc.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/promtool.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

TEST(MetricsScrape, RoleAllAfterAMillionEventsIsExactAndPromtoolClean) {
  if (!HavePromtool())
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; ops/install-deps.sh)";
  TempDir dir;
  const std::string data = dir.Sub("data");
  setenv("TICKETLEDGER_SEED_SECRET", kSeedSecret, 1);  // the secret ticketd gets too
  // Three events per user (accepted, drawn, resolved) and three for the
  // campaign: 1,020,003 events, decided at ~55k entries/s.
  constexpr int kUsers = 340000, kStock = 1000;
  ShellRun sim = RunShell(std::string(TL_TICKETCTL) + " simulate --sim-dir " + data + " --users " +
                          std::to_string(kUsers) + " --stock " + std::to_string(kStock) +
                          " --win-bps 500 2>/dev/null");
  ASSERT_EQ(sim.code, 0) << sim.out;
  // The count from an independent fold of the ledger (ticketctl replay).
  ShellRun replay =
      RunShell(std::string(TL_TICKETCTL) + " --data-dir " + data + " replay 2>/dev/null");
  ASSERT_EQ(replay.code, 0) << replay.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(replay.out, m, std::regex("replayed ([0-9]+) events")))
      << replay.out;
  const double events = std::stod(m[1]);
  ASSERT_GT(events, 1000000);

  TicketdProcess ticketd(data, {});
  ASSERT_TRUE(ticketd.ok());
  auto c = ticketd.Client();
  std::string page;
  for (int i = 0; i < 300; ++i) {  // recovery may still be folding
    auto r = c->Get("/metrics");
    ASSERT_TRUE(r && r->status == 200);
    page = r->body;
    if (FamilySum(page, "ticketledger_engine_events_total") == events) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  page = c->Get("/metrics")->body;  // now the previous scrape is counted too
  EXPECT_EQ(PromtoolProblems(page), "") << page;
  EXPECT_EQ(FamilySum(page, "ticketledger_engine_events_total"), events) << page;
  EXPECT_EQ(page.find("e+"), std::string::npos) << "a number in exponent form:\n" << page;
  EXPECT_EQ(SampleLine(page, "ticketledger_draws_total{campaign=\"sim\",outcome=\"won\"}"),
            "ticketledger_draws_total{campaign=\"sim\",outcome=\"won\"} " + std::to_string(kStock))
      << page;
  EXPECT_EQ(FamilySum(page, "ticketledger_draws_total"), kUsers) << page;
  EXPECT_GE(FamilySum(page, "ticketledger_http_requests_total"), 1) << page;
  EXPECT_GE(FamilySum(page, "ticketledger_http_request_duration_seconds_count"), 1) << page;
  EXPECT_EQ(ticketd.Kill(SIGTERM), 0);
}

}  // namespace
}  // namespace tl::testing
