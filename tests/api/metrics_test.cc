// The metrics registry (api/metrics.h): what /metrics prints for each kind of
// family, counters exact past a million, and promtool accepting the page.
#include "api/metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/promtool.h"

namespace tl::api {
namespace {

// The lines of `page` that are samples (no comments).
std::vector<std::string> Samples(const std::string& page) {
  std::vector<std::string> out;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

bool HasLine(const std::string& page, const std::string& line) {
  return ("\n" + page).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, CounterPastAMillionPrintsExactInteger) {
  Metrics m;
  m.Declare("t_events_total", "counter", "Events");
  m.Add("t_events_total", {}, 3000000);
  m.Add("t_events_total", {{"partition", "1"}}, 999999);
  m.Add("t_events_total", {{"partition", "1"}});
  m.Set("t_events_total", {{"partition", "2"}}, 1234567891234.0);
  m.Set("t_events_total", {{"partition", "3"}}, 9007199254740991.0);  // 2^53 - 1
  std::string page = m.Render();
  EXPECT_TRUE(HasLine(page, "t_events_total 3000000")) << page;
  EXPECT_TRUE(HasLine(page, "t_events_total{partition=\"1\"} 1000000")) << page;
  EXPECT_TRUE(HasLine(page, "t_events_total{partition=\"2\"} 1234567891234")) << page;
  EXPECT_TRUE(HasLine(page, "t_events_total{partition=\"3\"} 9007199254740991")) << page;
  EXPECT_EQ(page.find("e+"), std::string::npos) << page;
}

TEST(Metrics, AMillionAndOneIncrementsCountExactly) {
  Metrics m;
  m.Declare("t_requests_total", "counter", "Requests");
  for (int i = 0; i < 1000001; ++i) m.Add("t_requests_total", {{"route", "entry"}});
  EXPECT_TRUE(HasLine(m.Render(), "t_requests_total{route=\"entry\"} 1000001")) << m.Render();
}

TEST(Metrics, ConcurrentAddsAreAllCounted) {
  Metrics m;
  m.Declare("t_hits_total", "counter", "Hits");
  m.Declare("t_seconds", "histogram", "Latency");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 50000; ++i) {
        m.Add("t_hits_total", {{"limit", "x"}});
        m.Observe("t_seconds", {}, 0.002);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string page = m.Render();
  EXPECT_TRUE(HasLine(page, "t_hits_total{limit=\"x\"} 200000")) << page;
  EXPECT_TRUE(HasLine(page, "t_seconds_count 200000")) << page;
}

TEST(Metrics, SetCounterMirrorsASourceAndRestartsBelowIt) {
  Metrics m;
  m.Declare("t_folded_total", "counter", "Folded");
  m.Set("t_folded_total", {}, 5);
  m.Set("t_folded_total", {}, 1000003);
  EXPECT_TRUE(HasLine(m.Render(), "t_folded_total 1000003")) << m.Render();
  m.Set("t_folded_total", {}, 1000003);  // unchanged
  EXPECT_TRUE(HasLine(m.Render(), "t_folded_total 1000003")) << m.Render();
  m.Set("t_folded_total", {}, 7);  // the source restarted: a counter reset
  EXPECT_TRUE(HasLine(m.Render(), "t_folded_total 7")) << m.Render();
  m.Add("t_folded_total", {}, 2);
  EXPECT_TRUE(HasLine(m.Render(), "t_folded_total 9")) << m.Render();
}

TEST(Metrics, LabelsInAnyOrderNameOneSeriesAcrossAReset) {
  Metrics m;
  m.Declare("t_draws_total", "counter", "Draws");
  m.Set("t_draws_total", {{"campaign", "c"}, {"outcome", "won"}}, 10);
  m.Set("t_draws_total", {{"outcome", "won"}, {"campaign", "c"}}, 12);
  m.Set("t_draws_total", {{"campaign", "c"}, {"outcome", "won"}}, 3);  // reset
  m.Set("t_draws_total", {{"outcome", "won"}, {"campaign", "c"}}, 4);
  EXPECT_EQ(Samples(m.Render()),
            std::vector<std::string>{"t_draws_total{campaign=\"c\",outcome=\"won\"} 4"});
}

TEST(Metrics, GaugesGoBothWays) {
  Metrics m;
  m.Declare("t_queue", "gauge", "Queue");
  m.Set("t_queue", {}, 10);
  m.Add("t_queue", {}, -3);
  EXPECT_TRUE(HasLine(m.Render(), "t_queue 7")) << m.Render();
  m.Set("t_queue", {}, 0.25);
  EXPECT_TRUE(HasLine(m.Render(), "t_queue 0.25")) << m.Render();
  m.Set("t_queue", {}, 0);
  EXPECT_TRUE(HasLine(m.Render(), "t_queue 0")) << m.Render();
}

TEST(Metrics, HistogramBucketsAreCumulativeWithExactBounds) {
  Metrics m;
  m.Declare("t_append_seconds", "histogram", "Append time");
  m.Observe("t_append_seconds", {{"log", "kafka"}}, 0.0007);
  m.Observe("t_append_seconds", {{"log", "kafka"}}, 0.003);
  m.Observe("t_append_seconds", {{"log", "kafka"}}, 10);
  std::string page = m.Render();
  EXPECT_TRUE(HasLine(page, "# TYPE t_append_seconds histogram")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_bucket{log=\"kafka\",le=\"0.0005\"} 0")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_bucket{log=\"kafka\",le=\"0.001\"} 1")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_bucket{log=\"kafka\",le=\"0.005\"} 2")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_bucket{log=\"kafka\",le=\"2.5\"} 2")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_bucket{log=\"kafka\",le=\"+Inf\"} 3")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_count{log=\"kafka\"} 3")) << page;
  EXPECT_TRUE(HasLine(page, "t_append_seconds_sum{log=\"kafka\"} 10.0037")) << page;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.Declare("t_reads_total", "counter", "Reads");
  m.Add("t_reads_total", {{"campaign", "a\"b\\c\nd"}});
  EXPECT_TRUE(HasLine(m.Render(), "t_reads_total{campaign=\"a\\\"b\\\\c\\nd\"} 1")) << m.Render();
}

TEST(Metrics, PageIsSortedByNameThenLabels) {
  Metrics m;
  m.Declare("t_z_total", "counter", "Z");
  m.Declare("t_a", "gauge", "A");
  m.Declare("t_m_seconds", "histogram", "M");
  for (const char* p : {"3", "1", "2", "10"}) m.Add("t_z_total", {{"partition", p}});
  m.Set("t_a", {{"store", "redis"}, {"partition", "0"}}, 1);  // labels print sorted
  m.Observe("t_m_seconds", {}, 1);
  std::string page = m.Render();
  EXPECT_LT(page.find("# HELP t_a A"), page.find("# HELP t_m_seconds M"));
  EXPECT_LT(page.find("# HELP t_m_seconds M"), page.find("# HELP t_z_total Z"));
  EXPECT_TRUE(HasLine(page, "t_a{partition=\"0\",store=\"redis\"} 1")) << page;
  std::vector<std::string> z;
  for (const std::string& s : Samples(page)) {
    if (s.rfind("t_z_total", 0) == 0) z.push_back(s);
  }
  EXPECT_EQ(z, (std::vector<std::string>{
                   "t_z_total{partition=\"1\"} 1", "t_z_total{partition=\"10\"} 1",
                   "t_z_total{partition=\"2\"} 1", "t_z_total{partition=\"3\"} 1"}));
  EXPECT_EQ(m.Render(), page);  // the same every time
}

TEST(Metrics, DeclareIsIdempotentAndFamiliesWithoutSeriesAreLeftOut) {
  Metrics m;
  m.Declare("t_errors_total", "counter", "Errors");
  m.Declare("t_errors_total", "counter", "Errors again");  // a second declarer (two roles)
  EXPECT_EQ(m.Render(), "");
  m.Add("t_errors_total", {}, 2);
  EXPECT_EQ(m.Render(),
            "# HELP t_errors_total Errors\n# TYPE t_errors_total counter\n"
            "t_errors_total 2\n");
}

using MetricsDeathTest = ::testing::Test;

TEST(MetricsDeathTest, ProgrammerErrorsAbortNamingTheFamily) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Metrics m;
  m.Declare("t_c_total", "counter", "C");
  m.Declare("t_h_seconds", "histogram", "H");
  EXPECT_DEATH(m.Add("t_undeclared_total", {}), "t_undeclared_total: recorded before Declare");
  EXPECT_DEATH(m.Declare("t_c_total", "gauge", "C"), "t_c_total: declared as counter and gauge");
  EXPECT_DEATH(m.Declare("t_x", "summary", "X"), "unknown metric type summary");
  EXPECT_DEATH(m.Declare("t-bad-name", "gauge", "X"), "t-bad-name");
  EXPECT_DEATH(m.Observe("t_c_total", {}, 1), "t_c_total: is a counter");
  EXPECT_DEATH(m.Set("t_h_seconds", {}, 1), "t_h_seconds: is a histogram");
  EXPECT_DEATH(m.Add("t_c_total", {}, -1), "a counter cannot go down");
  EXPECT_DEATH(m.Add("t_c_total", {{"a", "1"}, {"a", "2"}}), "label a given twice");
  EXPECT_DEATH(m.Add("t_c_total", {{"bad-label", "1"}}), "t_c_total");
}

// promtool (Debian `prometheus`, installed by ops/install-deps.sh) accepts
// a page with every kind of family, escaped labels and big counters.
TEST(Metrics, PromtoolAcceptsThePage) {
  if (!tl::testing::HavePromtool())
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; ops/install-deps.sh)";
  Metrics m;
  m.Declare("t_events_total", "counter", "Events, per partition");
  m.Declare("t_queue", "gauge", "Queue");
  m.Declare("t_append_seconds", "histogram", "Append time");
  for (int p = 0; p < 4; ++p)
    m.Set("t_events_total", {{"partition", std::to_string(p)}}, 3000000 + p);
  m.Set("t_queue", {{"store", "a\"b"}}, -2.5);
  m.Observe("t_append_seconds", {}, 0.01);
  std::string page = m.Render();
  EXPECT_EQ(tl::testing::PromtoolProblems(page), "") << page;
}

}  // namespace
}  // namespace tl::api
