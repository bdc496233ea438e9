// The monitoring files against promtool and against real ticketd processes:
// - ops/prometheus/alerts.yml passes `promtool check rules`, prometheus.yml
//   `promtool check config`, and the rule unit tests alerts_test.yml pass
//   `promtool test rules`;
// - ops/grafana/ticketledger.json is an importable dashboard (a
//   ${DS_PROMETHEUS} input every panel uses) and every query in it parses
//   (promtool checks them as recording rules, Grafana's variables filled in);
// - every ticketledger_* name the dashboard and the rules mention is a family
//   on the /metrics of a real ticketd: role all, and the split roles engine,
//   api and projector on librdkafka's mock cluster, each after a small drop
//   (a family only some roles export must be on one of theirs); and every
//   label the queries select on or group by is on that family's series.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "tests/support/promtool.h"
#include "tests/support/servers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

const std::string kDashboard = "ops/grafana/ticketledger.json";
const std::string kAlerts = "ops/prometheus/alerts.yml";
const std::string kConfig = "ops/prometheus/prometheus.yml";
const std::string kAlertTests = "ops/prometheus/alerts_test.yml";

std::string Source(const std::string& path) { return std::string(TL_SOURCE_DIR) + "/" + path; }

std::string Read(const std::string& path) {
  std::ifstream in(Source(path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `cmd` through the shell; its stdout and stderr, its exit status in *rc.
std::string Shell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

// Every ticketledger_* metric name in `text` (not inside a longer word).
std::set<std::string> MetricNames(const std::string& text) {
  static const std::regex re("(^|[^A-Za-z0-9_:])(ticketledger_[a-z0-9_]+)");
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.insert((*it)[2]);
  return out;
}

// The PromQL of every query in the dashboard: each "expr", wherever it is
// (panels, panels inside rows), keyed by where it is.
void DashboardExprs(const json& j, const std::string& where,
                    std::vector<std::pair<std::string, std::string>>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "expr" && v.is_string()) {
        out->emplace_back(where, v.get<std::string>());
      } else {
        std::string here = where;
        if (k == "targets" && j.contains("title"))
          here = "panel \"" + j["title"].get<std::string>() + "\"";
        DashboardExprs(v, here, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) DashboardExprs(v, where, out);
  }
}

// The `expr:` of every rule in a Prometheus rules file, one line or a block
// (`expr: |` followed by the more indented lines), keyed by its alert.
std::vector<std::pair<std::string, std::string>> RuleExprs(const std::string& yaml) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> lines;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  static const std::regex expr_re("^(\\s*)expr:\\s*(.*)$"), alert_re("^\\s*-?\\s*alert:\\s*(\\S+)");
  std::string alert;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_search(lines[i], m, alert_re)) alert = m[1];
    if (!std::regex_match(lines[i], m, expr_re)) continue;
    const size_t indent = m[1].length();
    std::string expr = m[2];
    if (expr == "|" || expr == "|-" || expr == ">" || expr == ">-") {
      expr.clear();
      for (size_t k = i + 1; k < lines.size(); ++k) {
        const std::string& l = lines[k];
        size_t first = l.find_first_not_of(' ');
        if (first != std::string::npos && first <= indent) break;
        expr += l + "\n";
      }
    }
    out.emplace_back("alert " + alert, expr);
  }
  return out;
}

// Grafana's variables replaced by what Prometheus would get: every value.
std::string FillGrafanaVariables(std::string expr) {
  expr = std::regex_replace(expr, std::regex("\\$__rate_interval|\\$__interval|\\$__range"), "5m");
  return std::regex_replace(expr, std::regex("\\$\\{?[A-Za-z_][A-Za-z0-9_]*\\}?"), ".*");
}

// What one /metrics page holds: each family's type, and the labels (with
// their values) on its series.
struct Page {
  std::string role;
  std::string text;
  std::map<std::string, std::string> types;
  std::map<std::string, std::map<std::string, std::set<std::string>>> labels;
  std::map<std::string, std::string> samples;  // series as printed -> value

  // The family a name in a query refers to: itself, or the histogram whose
  // _bucket, _sum or _count series it is; "" if this page has none.
  std::string Family(const std::string& name) const {
    if (types.count(name)) return name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        auto it = types.find(name.substr(0, name.size() - s.size()));
        if (it != types.end() && it->second == "histogram") return it->first;
      }
    }
    return "";
  }
};

Page ParsePage(const std::string& role, const std::string& text) {
  Page p;
  p.role = role;
  p.text = text;
  static const std::regex type_re("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)$");
  static const std::regex sample_re("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (\\S+)$");
  static const std::regex label_re("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_re)) {
      p.types[m[1]] = m[2];
    } else if (!line.empty() && line[0] != '#' && std::regex_match(line, m, sample_re)) {
      const std::string family = p.Family(m[1]);
      if (family.empty()) continue;
      auto& labels = p.labels[family];
      const std::string inner = m[3];
      p.samples[m[1].str() + m[2].str()] = m[4];
      for (std::sregex_iterator it(inner.begin(), inner.end(), label_re), end; it != end; ++it)
        labels[(*it)[1]].insert((*it)[2]);
      if (inner.empty()) labels.emplace("", std::set<std::string>{});  // has series
    }
  }
  return p;
}

// Labels Prometheus adds (target labels) or the histogram quantile needs.
bool TargetLabel(const std::string& l) { return l == "job" || l == "instance" || l == "le"; }

TEST(Monitoring, PromtoolAcceptsTheRulesTheConfigAndTheRuleTests) {
  if (!HavePromtool())
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; ops/install-deps.sh)";
  for (const std::string& cmd :
       {"promtool check rules " + Source(kAlerts), "promtool check config " + Source(kConfig),
        "promtool test rules " + Source(kAlertTests)}) {
    int rc = -1;
    std::string out = Shell(cmd, &rc);
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  }
  // Each rule has a `for:`, a severity and both annotations (promtool does
  // not insist on any of them).
  const std::string rules = Read(kAlerts);
  std::vector<std::string> blocks;
  for (size_t at = rules.find("- alert:"); at != std::string::npos;) {
    size_t next = rules.find("- alert:", at + 1);
    size_t group = rules.find("- name:", at + 1);
    size_t stop = std::min(next, group);
    blocks.push_back(rules.substr(at, stop == std::string::npos ? std::string::npos : stop - at));
    at = next;
  }
  EXPECT_GE(blocks.size(), 7u);
  for (const std::string& b : blocks) {
    SCOPED_TRACE(b.substr(0, b.find('\n')));
    EXPECT_NE(b.find("\n        for: "), std::string::npos);
    EXPECT_TRUE(std::regex_search(b, std::regex("severity: (critical|warning)")));
    EXPECT_NE(b.find("summary: "), std::string::npos);
    EXPECT_NE(b.find("description: "), std::string::npos);
  }
  // The alerts the issue asks for.
  for (const char* alert :
       {"TicketledgerNotReady", "TicketledgerProjectionLagGrowing", "TicketledgerKafkaConsumerLag",
        "TicketledgerHigh5xxRate", "TicketledgerLogAppendSlow", "TicketledgerAppendErrors",
        "TicketledgerLimitHitsSurging"})
    EXPECT_NE(rules.find(std::string("alert: ") + alert + "\n"), std::string::npos) << alert;
}

TEST(Monitoring, DashboardIsImportableAndEveryQueryParses) {
  const json d = json::parse(Read(kDashboard));  // throws, and fails, if not JSON
  ASSERT_TRUE(d["__inputs"].is_array());
  bool input = false;
  for (const auto& in : d["__inputs"])
    input |= in["name"] == "DS_PROMETHEUS" && in["pluginId"] == "prometheus";
  EXPECT_TRUE(input) << "no DS_PROMETHEUS datasource input";
  EXPECT_GE(d["schemaVersion"].get<int>(), 39);
  EXPECT_TRUE(d["uid"].is_string() && d["title"].is_string());
  const json ds = {{"type", "prometheus"}, {"uid", "${DS_PROMETHEUS}"}};
  std::set<int> ids;
  int queries = 0;
  for (const auto& p : d["panels"]) {
    SCOPED_TRACE(p.value("title", "?"));
    EXPECT_TRUE(ids.insert(p["id"].get<int>()).second) << "panel id used twice";
    const auto& g = p["gridPos"];
    EXPECT_LE(g["x"].get<int>() + g["w"].get<int>(), 24);
    if (p["type"] == "row") continue;
    EXPECT_EQ(p["datasource"], ds);
    ASSERT_TRUE(p["targets"].is_array() && !p["targets"].empty());
    for (const auto& t : p["targets"]) {
      EXPECT_EQ(t["datasource"], ds);
      EXPECT_FALSE(t.value("expr", "").empty());
      ++queries;
    }
  }
  EXPECT_GE(queries, 30);
  for (const auto& v : d["templating"]["list"]) EXPECT_EQ(v["datasource"], ds) << v["name"];

  if (!HavePromtool())
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; ops/install-deps.sh)";
  // Every query as a recording rule: promtool parses each one.
  std::vector<std::pair<std::string, std::string>> exprs;
  DashboardExprs(d, "dashboard", &exprs);
  ASSERT_EQ(static_cast<int>(exprs.size()), queries);
  TempDir dir;
  const std::string path = dir.Sub("dashboard_rules.yml");
  {
    std::ofstream out(path);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    for (size_t i = 0; i < exprs.size(); ++i) {
      out << "      - record: dashboard:query_" << i << "\n        expr: |\n";
      std::istringstream lines(FillGrafanaVariables(exprs[i].second));
      for (std::string l; std::getline(lines, l);) out << "          " << l << "\n";
    }
  }
  int rc = -1;
  std::string out = Shell("promtool check rules " + path, &rc);
  std::string which;  // dashboard:query_N is the Nth query
  for (size_t i = 0; i < exprs.size(); ++i)
    which += "query_" + std::to_string(i) + ": " + exprs[i].first + "\n";
  EXPECT_EQ(rc, 0) << out << which;
}

// The split roles on the mock cluster and a role all, each after a small
// drop; one /metrics page each.
class MonitoringAgainstRealTicketd : public ::testing::Test {
 protected:
  // A campaign with `users` entries through `t`, one entry read back until
  // decided, and one request over the header limit.
  static void Drop(const TicketdProcess& t, const std::string& campaign, int users) {
    auto c = t.Client();
    c->set_read_timeout(30, 0);
    auto r =
        c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
                json{{"id", campaign}, {"stock", 3}, {"win_bps", 5000}}.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    for (int i = 0; i < users; ++i) {
      auto e = c->Post("/v1/campaigns/" + campaign + "/entries",
                       Auth(Token("u" + std::to_string(i))), "", "application/json");
      ASSERT_TRUE(e);
      ASSERT_EQ(e->status, 202) << e->body;
    }
    // Read until decided (ticketledger_reads_total).
    static const std::regex decided("\"status\":\"(won|lost|sold_out)\"");
    std::string me;
    for (int i = 0; i < 300 && !std::regex_search(me, decided); ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto r = c->Get("/v1/campaigns/" + campaign + "/entries/me", Auth(Token("u0")));
      ASSERT_TRUE(r);
      me = r->body;
    }
    ASSERT_TRUE(std::regex_search(me, decided)) << me;
    // 9 KiB of headers: 431 and a limit hit (header_bytes).
    auto big = t.Client()->Get("/healthz", httplib::Headers{{"X-Padding", std::string(9000, 'x')}});
    EXPECT_TRUE(!big || big->status == 431);
  }

  // A user in the waiting room of --demo's campaign, paused, follows its
  // entry over SSE; the admission resumes: the ticker moves the queue
  // (ticketledger_ticks_total) and the live hub fans each change out to the
  // stream (ticketledger_live_*) until the outcome ends it.
  static void WatchTheQueueMove(const TicketdProcess& t) {
    auto c = t.Client();
    auto admin = [&](const std::string& action) {
      auto r = c->Post("/v1/admin/campaigns/demo/" + action, Auth(Token("ops", true), "wait=10"),
                       "", "application/json");
      ASSERT_TRUE(r);
      ASSERT_LT(r->status, 300) << action << ": " << r->body;
    };
    admin("pause");
    if (HasFatalFailure()) return;
    auto q = c->Post("/v1/campaigns/demo/entries", Auth(Token("queued")), "", "application/json");
    ASSERT_TRUE(q);
    ASSERT_EQ(q->status, 202) << q->body;
    absl::Mutex mu;
    std::string stream;
    std::thread reader([&] {
      auto s = t.Client();
      s->set_read_timeout(30, 0);
      s->Get("/v1/campaigns/demo/events", Auth(Token("queued")), [&](const char* d, size_t n) {
        absl::MutexLock lock(&mu);
        stream.append(d, n);
        return true;
      });
    });
    auto messages = [&] {
      absl::MutexLock lock(&mu);
      size_t n = 0;
      for (size_t at = stream.find("data:"); at != std::string::npos;
           at = stream.find("data:", at + 1))
        ++n;
      return n;
    };
    for (int i = 0; i < 100 && messages() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    admin("resume");
    reader.join();  // the server ends the stream after the outcome
    EXPECT_GE(messages(), 2u) << stream;
  }

  // /metrics of `t` once `done` holds for it (or after 30 s); the last page
  // counts the scrapes before it too.
  static std::string Scrape(const TicketdProcess& t,
                            const std::function<bool(const std::string&)>& done) {
    auto c = t.Client();
    for (int i = 0; i < 300; ++i) {
      auto r = c->Get("/metrics");
      if (r && r->status == 200 && done(r->body)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto r = c->Get("/metrics");
    return r ? r->body : "";
  }
};

TEST_F(MonitoringAgainstRealTicketd, EveryMetricTheDashboardAndTheRulesNameIsExported) {
  constexpr int kUsers = 20;
  auto drawn = [](const std::string& page) {
    return FamilySum(page, "ticketledger_draws_total") >= kUsers;
  };
  TempDir dir;
  RedisServer redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.ok());
  std::vector<Page> pages;
  {
    TicketdProcess all(dir.Sub("all"),
                       {"--demo", "--redis-url", redis.url(), "--redis-prefix", "all:"});
    ASSERT_TRUE(all.ok());
    Drop(all, "mon", kUsers);
    if (HasFatalFailure()) return;
    WatchTheQueueMove(all);
    if (HasFatalFailure()) return;
    pages.push_back(ParsePage("all", Scrape(all, [&](const std::string& p) {
                                return drawn(p) && ProjectionsCaughtUp(p) &&
                                       FamilySum(p, "ticketledger_ticks_total") > 0 &&
                                       FamilySum(p, "ticketledger_live_messages_total") > 0;
                              })));
    EXPECT_EQ(all.Kill(SIGTERM), 0);
  }
  {
    TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
    ASSERT_TRUE(mock.ok());
    const std::vector<std::string> kafka = {"--kafka-brokers", mock.match(), "--partitions", "4"};
    TicketdProcess engine(dir.Sub("engine"), RoleArgs("engine", kafka));
    ASSERT_TRUE(engine.ok());
    TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka, {"--user-rate", "0"}));
    ASSERT_TRUE(api.ok());
    TicketdProcess projector(
        dir.Sub("projector"),
        RoleArgs("projector", kafka, {"--redis-url", redis.url(), "--redis-prefix", "split:"}));
    ASSERT_TRUE(projector.ok());
    Drop(api, "mon", kUsers);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(WaitProjectionsCaughtUp(projector, 60));
    pages.push_back(ParsePage("api", Scrape(api, drawn)));
    pages.push_back(ParsePage("engine", Scrape(engine, [](const std::string& p) {
                                return FamilySum(p, "ticketledger_engine_partitions_owned") == 4;
                              })));
    pages.push_back(ParsePage("projector", Scrape(projector, ProjectionsCaughtUp)));
    EXPECT_EQ(projector.Kill(SIGTERM), 0);
    EXPECT_EQ(api.Kill(SIGTERM), 0);
    EXPECT_EQ(engine.Kill(SIGTERM), 0);
  }
  for (const Page& p : pages) {
    SCOPED_TRACE(p.role);
    ASSERT_FALSE(p.types.empty()) << "no /metrics page";
    if (HavePromtool()) {
      EXPECT_EQ(PromtoolProblems(p.text), "");
    }
    // Every role reports readiness, and each was ready.
    EXPECT_EQ(p.samples.count("ticketledger_ready") ? p.samples.at("ticketledger_ready") : "none",
              "1");
  }

  // 1. Every name either file mentions is a family on some role's page.
  std::map<std::string, std::set<std::string>> where;  // family -> roles exporting it
  for (const std::string& file : {kDashboard, kAlerts}) {
    const std::set<std::string> names = MetricNames(Read(file));
    EXPECT_GE(names.size(), 10u) << file;
    for (const std::string& name : names) {
      std::set<std::string> roles;
      std::string family;
      for (const Page& p : pages) {
        if (std::string f = p.Family(name); !f.empty()) {
          family = f;
          roles.insert(p.role);
        }
      }
      if (roles.empty()) {
        ADD_FAILURE() << name << " (named in " << file
                      << ") is on no role's /metrics (all, api, engine, projector)";
      } else {
        where[family].insert(roles.begin(), roles.end());
      }
    }
  }
  for (const auto& [family, roles] : where) {
    std::string list;
    for (const auto& r : roles) list += " " + r;
    std::printf("%-52s%s\n", family.c_str(), list.c_str());
  }

  // 2. Every label a query selects on (`{label="value"}`) or groups by
  // (`by (label)`) is on the series of a family in that query; an exact
  // value (`label="value"`) is one of the values seen. Families with no
  // series on any page (an error counter never counted) cannot be checked.
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;
  for (const Page& p : pages)
    for (const auto& [family, labels] : p.labels)
      for (const auto& [l, values] : labels) seen[family][l].insert(values.begin(), values.end());
  std::vector<std::pair<std::string, std::string>> exprs;
  DashboardExprs(json::parse(Read(kDashboard)), "dashboard", &exprs);
  for (auto& e : RuleExprs(Read(kAlerts))) exprs.push_back(e);
  EXPECT_GE(exprs.size(), 40u);
  auto family_of = [&](const std::string& name) {
    for (const Page& p : pages)
      if (std::string f = p.Family(name); !f.empty()) return f;
    return std::string();
  };
  static const std::regex selector_re("(ticketledger_[a-z0-9_]+)\\s*\\{([^}]*)\\}");
  static const std::regex matcher_re(
      "([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
  static const std::regex by_re("\\b(?:by|without)\\s*\\(([^)]*)\\)");
  int checked = 0;
  for (const auto& [place, expr] : exprs) {
    SCOPED_TRACE(place + ": " + expr);
    std::set<std::string> families;
    for (const std::string& name : MetricNames(expr))
      if (std::string f = family_of(name); !f.empty()) families.insert(f);
    for (std::sregex_iterator it(expr.begin(), expr.end(), selector_re), end; it != end; ++it) {
      const std::string family = family_of((*it)[1]);
      if (family.empty() || !seen.count(family)) continue;
      const std::string inner = (*it)[2];
      for (std::sregex_iterator mt(inner.begin(), inner.end(), matcher_re); mt != end; ++mt) {
        const std::string label = (*mt)[1], op = (*mt)[2], value = (*mt)[3];
        if (TargetLabel(label)) continue;
        ++checked;
        EXPECT_TRUE(seen[family].count(label)) << family << " has no label " << label;
        if (op == "=" && seen[family].count(label)) {
          EXPECT_TRUE(seen[family][label].count(value))
              << family << "{" << label << "=\"" << value << "\"} is on no page";
        }
      }
    }
    for (std::sregex_iterator it(expr.begin(), expr.end(), by_re), end; it != end; ++it) {
      std::stringstream labels((*it)[1]);
      for (std::string l; std::getline(labels, l, ',');) {
        l.erase(0, l.find_first_not_of(" \n"));
        l.erase(l.find_last_not_of(" \n") + 1);
        if (l.empty() || TargetLabel(l)) continue;
        bool any_series = false, found = false;
        for (const std::string& f : families) {
          any_series |= seen.count(f) > 0;
          found |= seen.count(f) && seen[f].count(l);
        }
        if (!any_series) continue;
        ++checked;
        EXPECT_TRUE(found) << "grouped by " << l << ", a label of none of its metrics";
      }
    }
  }
  EXPECT_GE(checked, 40);
}

}  // namespace
}  // namespace tl::testing
