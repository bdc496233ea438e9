#include "benchmarks/ticketload_checks.h"

#include <algorithm>
#include <cmath>
#include <pqxx/pqxx>
#include <thread>
#include <unordered_map>

#include "engine/core/names.h"

namespace tl::load {
namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

uint64_t U(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

bool GetCampaign(const Options& o, const Target& t, json* out, std::string* err) {
  HttpResult r = SyncRequest(t, http::verb::get, "/v1/campaigns/" + o.campaign, "", "");
  if (r.status != 200) {
    *err = "GET campaign: " + (r.status ? Str(static_cast<uint64_t>(r.status)) : "") + " " + r.body;
    return false;
  }
  *out = json::parse(r.body, nullptr, false);
  return !out->is_discarded();
}

struct Result {
  uint64_t position;
  std::string outcome;
};

void Add(std::vector<CheckResult>* out, std::string name, bool pass, std::string detail) {
  out->push_back(CheckResult{std::move(name), pass, std::move(detail)});
}

// The read model's tallies, polled until they match the API's (the projector
// may be a moment behind) or --settle-s runs out.
void CheckSql(const Options& o, const json& c, std::vector<CheckResult>* out) {
  const uint64_t won = U(c, kWon) - U(c, kCancelled);
  const std::vector<uint64_t> want = {U(c, "entries"), won, U(c, kLost), U(c, kSoldOut),
                                      U(c, kCancelled)};
  std::vector<uint64_t> got;
  uint64_t dup_users = 0;
  std::string error;
  const auto deadline = std::chrono::steady_clock::now() + Seconds(o.settle_s);
  try {
    pqxx::connection conn(o.postgres_url);
    while (true) {
      pqxx::nontransaction tx(conn);
      const std::string table = tx.quote_name(o.postgres_schema) + ".entries";
      pqxx::result r = tx.exec_params(
          "SELECT count(*), count(*) FILTER (WHERE outcome = 'won'), "
          "count(*) FILTER (WHERE outcome = 'lost'), count(*) FILTER (WHERE outcome = 'sold_out'), "
          "count(*) FILTER (WHERE outcome = 'cancelled') FROM " +
              table + " WHERE campaign = $1",
          o.campaign);
      got.clear();
      for (int i = 0; i < 5; ++i) got.push_back(r[0][i].as<uint64_t>());
      pqxx::result d = tx.exec_params("SELECT count(*) FROM (SELECT user_id FROM " + table +
                                          " WHERE campaign = $1 GROUP BY user_id "
                                          "HAVING count(*) > 1) AS twice",
                                      o.campaign);
      dup_users = d[0][0].as<uint64_t>();
      if (got == want || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  } catch (const std::exception& e) {
    error = e.what();
    std::replace(error.begin(), error.end(), '\n', ' ');
  }
  if (!error.empty()) {
    Add(out, "sql: read model reachable", false, error);
    return;
  }
  auto fmt = [](const std::vector<uint64_t>& v) {
    return "entries " + Str(v[0]) + ", won " + Str(v[1]) + ", lost " + Str(v[2]) + ", sold_out " +
           Str(v[3]) + ", cancelled " + Str(v[4]);
  };
  Add(out, "sql: counts by outcome equal the API's", got == want,
      "sql " + fmt(got) + " | api " + fmt(want));
  Add(out, "sql: no user twice", dup_users == 0, Str(dup_users) + " users with two rows");
}

}  // namespace

std::pair<uint64_t, uint64_t> BinomialRegion(uint64_t n, double p, double alpha) {
  if (n == 0) return {0, 0};
  if (p <= 0) return {0, 0};
  if (p >= 1) return {n, n};
  const double dn = static_cast<double>(n);
  auto pmf = [&](uint64_t k) {
    const double dk = static_cast<double>(k);
    return std::exp(std::lgamma(dn + 1) - std::lgamma(dk + 1) - std::lgamma(dn - dk + 1) +
                    dk * std::log(p) + (dn - dk) * std::log1p(-p));
  };
  uint64_t lo = 0, hi = n;
  double cdf = 0;
  bool have_lo = false;
  for (uint64_t k = 0; k <= n; ++k) {
    cdf += pmf(k);
    if (!have_lo && cdf > alpha / 2) {
      lo = k;
      have_lo = true;
    }
    if (cdf >= 1 - alpha / 2) {
      hi = k;
      break;
    }
  }
  return {lo, hi};
}

namespace {

// 1. Settle: every position decided, and no new entries for a second.
// False (with a failed check in `out`) if the campaign is not readable.
bool Settle(const Options& o, const Target& t, json* c, std::vector<CheckResult>* out) {
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + Seconds(o.settle_s);
  uint64_t last_entries = UINT64_MAX;
  bool settled = false;
  while (true) {
    if (!GetCampaign(o, t, c, &err)) {
      Add(out, "api: campaign readable", false, err);
      return false;
    }
    const uint64_t entries = U(*c, "entries");
    settled = U(*c, "serving") >= entries && U(*c, kPrequeued) == 0 && entries == last_entries;
    if (settled || std::chrono::steady_clock::now() > deadline) break;
    last_entries = entries;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  Add(out, "drop settled: every position decided", settled,
      "entries " + Str(U(*c, "entries")) + ", serving " + Str(U(*c, "serving")) +
          (settled ? "" : " after --settle-s " + std::to_string(o.settle_s)));
  return true;
}

// 2. Every result, by cursor.
struct Results {
  std::unordered_map<std::string, std::vector<Result>> by_user;
  std::map<std::string, uint64_t> tally;
  uint64_t rows = 0, gaps = 0, pages = 0;
};
bool ReadResults(const Options& o, const Target& t, Results* res, std::vector<CheckResult>* out) {
  uint64_t cursor = 0;
  while (true) {
    HttpResult r = SyncRequest(
        t, http::verb::get,
        "/v1/campaigns/" + o.campaign + "/results?limit=1000&cursor=" + Str(cursor), "", "");
    json page = r.status == 200 ? json::parse(r.body, nullptr, false) : json();
    if (!page.is_object() || !page.contains("items")) {
      Add(out, "api: results readable", false, "cursor " + Str(cursor) + ": " + r.body);
      return false;
    }
    ++res->pages;
    for (const json& it : page["items"]) {
      const uint64_t pos = it.value("position", uint64_t{0});
      if (pos != res->rows + 1) ++res->gaps;
      res->rows = pos;
      const std::string outcome = it.value("outcome", "");
      ++res->tally[outcome];
      res->by_user[it.value("user", "")].push_back(Result{pos, outcome});
    }
    if (!page.contains("next_cursor")) return true;
    const uint64_t next = page["next_cursor"].get<uint64_t>();
    if (next <= cursor && page["items"].empty()) return true;
    cursor = next;
  }
}

// 3. Each acknowledged user once in the results, and what watchers saw
// live equal to it.
// The watcher checks go to `live_checks` (reported after the counters).
void CheckAcked(const std::vector<AckedUser>& acked, const Results& res,
                std::vector<CheckResult>* out, std::vector<CheckResult>* live_checks) {
  uint64_t missing = 0, dup = 0, watched = 0, live = 0, mismatched = 0;
  std::string missing_example, live_example;
  for (const AckedUser& a : acked) {
    auto it = res.by_user.find(a.user);
    const size_t n = it == res.by_user.end() ? 0 : it->second.size();
    if (n == 0) {
      ++missing;
      if (missing_example.empty()) missing_example = "e.g. " + a.user + " missing";
    }
    if (n > 1) ++dup;
    if (!a.watched) continue;
    ++watched;
    if (a.live == Outcome::kNone) continue;
    ++live;
    if (n == 1 && it->second[0].outcome != OutcomeName(a.live)) {
      ++mismatched;
      if (live_example.empty())
        live_example =
            "e.g. " + a.user + " live " + OutcomeName(a.live) + ", api " + it->second[0].outcome;
    }
  }
  Add(out, "every acknowledged user appears exactly once", missing == 0 && dup == 0,
      Str(acked.size()) + " acked, " + Str(missing) + " missing, " + Str(dup) + " twice" +
          (missing ? "; " + missing_example : ""));
  if (watched > 0) {
    Add(live_checks, "every watcher saw its outcome live", live == watched,
        Str(live) + " of " + Str(watched) + " watchers");
    Add(live_checks, "live outcome == API result", mismatched == 0,
        Str(mismatched) + " of " + Str(live) + " differ" + (mismatched ? "; " + live_example : ""));
  }
}

// 4. The counters: stock conserved, the results' tally, what was expected.
void CheckCounters(const Options& o, const json& c, std::map<std::string, uint64_t> tally,
                   const std::vector<CheckResult>& live_checks, std::vector<CheckResult>* out) {
  const uint64_t stock = U(c, "stock"), restocked = U(c, "restocked"), won = U(c, kWon),
                 cancelled = U(c, kCancelled), left = U(c, "stock_left"), lost = U(c, kLost),
                 sold_out = U(c, kSoldOut);
  Add(out, "won <= stock", won - cancelled <= stock + restocked,
      "won " + Str(won) + " - cancelled " + Str(cancelled) + ", stock " + Str(stock) +
          " + restocked " + Str(restocked));
  Add(out, "won + stock_left == stock + restocked", won - cancelled + left == stock + restocked,
      Str(won) + " - " + Str(cancelled) + " + " + Str(left) + " vs " + Str(stock) + " + " +
          Str(restocked));
  const bool tallies = tally[kWon] == won - cancelled && tally[kLost] == lost &&
                       tally[kSoldOut] == sold_out && tally[kCancelled] == cancelled;
  Add(out, "results agree with the counters", tallies,
      "results won " + Str(tally[kWon]) + " lost " + Str(tally[kLost]) + " sold_out " +
          Str(tally[kSoldOut]) + " cancelled " + Str(tally[kCancelled]) + "; counters won " +
          Str(won) + " lost " + Str(lost) + " sold_out " + Str(sold_out) + " cancelled " +
          Str(cancelled));
  out->insert(out->end(), live_checks.begin(), live_checks.end());
  if (o.expect_won >= 0)
    Add(out, "won == " + std::to_string(o.expect_won), won == static_cast<uint64_t>(o.expect_won),
        "won " + Str(won));
  if (o.expect_sold_out >= 0)
    Add(out, "sold_out == " + std::to_string(o.expect_sold_out),
        sold_out == static_cast<uint64_t>(o.expect_sold_out), "sold_out " + Str(sold_out));
  if (o.expect_lost >= 0)
    Add(out, "lost == " + std::to_string(o.expect_lost),
        lost == static_cast<uint64_t>(o.expect_lost), "lost " + Str(lost));
}

// 5. Draws made while stock remained are Bernoulli(win_bps/10000): sold_out
// outcomes are not draws.
void CheckWinRate(const Options& o, const json& c, std::vector<CheckResult>* out) {
  const uint64_t won = U(c, kWon);
  const uint64_t n = won + U(c, kLost);
  const uint64_t bps =
      o.expect_win_bps >= 0 ? static_cast<uint64_t>(o.expect_win_bps) : U(c, "win_bps");
  auto [lo, hi] = BinomialRegion(n, static_cast<double>(bps) / 10000, 0.001);
  char detail[160];
  std::snprintf(detail, sizeof detail,
                "%llu won of %llu draws (%.2f%%); 99.9%% region for %.2f%%: %llu..%llu",
                static_cast<unsigned long long>(won), static_cast<unsigned long long>(n),
                n ? 100.0 * static_cast<double>(won) / static_cast<double>(n) : 0.0,
                static_cast<double>(bps) / 100, static_cast<unsigned long long>(lo),
                static_cast<unsigned long long>(hi));
  Add(out, "win rate kept (99.9% binomial interval)", n > 0 && won >= lo && won <= hi, detail);
}

}  // namespace

std::vector<CheckResult> CheckDrop(const Options& o, const Target& t,
                                   const std::vector<AckedUser>& acked, json* api) {
  std::vector<CheckResult> out;
  json c;
  if (!Settle(o, t, &c, &out)) return out;
  Results res;
  if (!ReadResults(o, t, &res, &out)) return out;
  *api = {{"campaign", c},
          {"results", {{"rows", res.rows}, {"pages", res.pages}, {"by_outcome", res.tally}}}};
  const uint64_t serving = U(c, "serving");
  Add(&out, "results: positions 1..serving, each once", res.gaps == 0 && res.rows == serving,
      Str(res.rows) + " rows, serving " + Str(serving) + ", " + Str(res.gaps) + " out of order");
  uint64_t twice = 0;
  for (const auto& [user, v] : res.by_user) twice += v.size() > 1;
  Add(&out, "no race: no user holds two positions", twice == 0, Str(twice) + " users twice");
  std::vector<CheckResult> live_checks;
  CheckAcked(acked, res, &out, &live_checks);
  CheckCounters(o, c, res.tally, live_checks, &out);
  if (o.check_win_rate) CheckWinRate(o, c, &out);
  if (!o.postgres_url.empty()) CheckSql(o, c, &out);
  return out;
}

}  // namespace tl::load
