// ticketload: a load generator for ticketd that drives a real drop from the
// outside (create the campaign, users arrive on a ramp, enter, follow their
// place live until the outcome), reports per phase, and checks the drop's
// invariants through the API afterwards. `ticketload --help` lists every flag;
// benchmarks/profiles.md describes the named profiles.
//
// Process model: this process is the coordinator (campaign, the newcomer
// probe, the server's RSS, progress, merge, report, checks); --procs worker
// processes, forked before any thread exists, each run --threads lanes (one
// io_context per thread) and send progress and their results (histograms and
// per-user records, never percentiles) back over a pipe as JSON lines.
#include "benchmarks/ticketload.h"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/jwt.h"
#include "benchmarks/ticketload_checks.h"
#include "benchmarks/ticketload_http.h"
#include "engine/core/names.h"
#include "ops/app/secrets.h"

namespace tl::load {
namespace {

std::vector<Stage> ParseStages(const std::string& spec) {
  std::vector<Stage> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("stage '" + item + "': want DUR:RATE");
    std::string dur = item.substr(0, colon);
    double scale = 1;
    if (dur.ends_with("ms")) {
      scale = 1e-3;
      dur.resize(dur.size() - 2);
    } else if (dur.ends_with("s")) {
      dur.pop_back();
    } else if (dur.ends_with("m")) {
      scale = 60;
      dur.pop_back();
    }
    Stage s;
    size_t used = 0, used_rate = 0;
    try {
      s.seconds = std::stod(dur, &used) * scale;
      s.rate = std::stod(item.substr(colon + 1), &used_rate);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != dur.size() || used_rate != item.size() - colon - 1 || s.seconds <= 0 ||
        s.rate < 0)
      throw std::invalid_argument("stage '" + item +
                                  "': want e.g. 10s:100 (duration > 0, rate >= 0)");
    out.push_back(s);
  }
  if (out.empty()) throw std::invalid_argument("--stages is empty");
  return out;
}

// A profile sets defaults; every flag given on the command line wins.
void ApplyProfile(const CLI::App& app, Options& o) {
  auto set = [&](const char* flag, auto& field, auto value) {
    if (app.count(flag) == 0) field = value;
  };
  const std::string& p = o.profile;
  if (p.empty()) return;
  if (p == "gke") {
    set("--users", o.users, 500);
    set("--ramp-s", o.ramp_s, 30.0);
    set("--watch", o.watch, true);
    set("--create", o.create, true);
    set("--stock", o.stock, 1000);
    set("--win-bps", o.win_bps, 500);
    set("--admission-rate", o.admission_rate, 50);
    set("--check-win-rate", o.check_win_rate, true);
  } else if (p == "booking") {
    set("--users", o.users, 1000);
    set("--ramp-s", o.ramp_s, 1.0);
    set("--create", o.create, true);
    set("--stock", o.stock, 100);
    set("--win-bps", o.win_bps, 10000);
    set("--admission-rate", o.admission_rate, 0);
    set("--expect-won", o.expect_won, 100);
    set("--expect-sold-out", o.expect_sold_out, 900);
  } else if (p == "ab") {
    set("--requests", o.requests, 10000);
    set("--conns", o.conns, 1000);
    set("--create", o.create, true);
    set("--stock", o.stock, 1'000'000'000);
    set("--win-bps", o.win_bps, 500);
    set("--admission-rate", o.admission_rate, 0);
  } else if (p == "payment") {
    set("--start-rate", o.start_rate, 100.0);
    set("--stages", o.stages_spec, std::string("20s:100,20s:400,20s:800"));
    set("--conns", o.conns, 100);
    set("--create", o.create, true);
    set("--stock", o.stock, 1'000'000'000);
    set("--win-bps", o.win_bps, 500);
    set("--admission-rate", o.admission_rate, 0);
    set("--threshold-p95-ms", o.threshold_p95_ms, 1000.0);
    set("--threshold-fail-rate", o.threshold_fail_rate, 0.001);
  } else if (p == "crowd") {
    set("--users", o.users, 18000);
    set("--ramp-s", o.ramp_s, 20.0);
    set("--watch", o.watch, true);
    set("--create", o.create, true);
    set("--stock", o.stock, 1'000'000'000);
    set("--win-bps", o.win_bps, 500);
    set("--admission-rate", o.admission_rate, 100);
    set("--enter-rate", o.enter_rate, 20.0);
    set("--procs", o.procs, 3);
    set("--source-addrs", o.source_addrs, 24);
    set("--watch-timeout-s", o.watch_timeout_s, 600.0);
    set("--stream-idle-s", o.stream_idle_s, 120.0);
    set("--max-duration-s", o.max_duration_s, 900.0);
    set("--settle-s", o.settle_s, 300.0);
  } else {
    throw std::invalid_argument("unknown --profile '" + p + "' (gke, booking, ab, payment, crowd)");
  }
}

void Validate(Options& o) {
  if (!o.stages_spec.empty()) o.stages = ParseStages(o.stages_spec);
  const int modes = (o.users > 0) + !o.stages.empty() + (o.requests > 0);
  if (modes != 1)
    throw std::invalid_argument(
        "give exactly one of --users N (with --ramp-s), --stages SPEC, --requests N (closed loop)");
  if (o.requests > 0 && o.conns == 0)
    throw std::invalid_argument("--requests (closed loop) needs --conns C");
  if (o.requests > 0 && o.watch)
    throw std::invalid_argument("--watch does not go with the closed loop (--requests)");
  if (o.procs < 1 || o.procs > 64) throw std::invalid_argument("--procs must be 1..64");
  if (o.threads < 1 || o.threads > 64) throw std::invalid_argument("--threads must be 1..64");
  if (o.source_addrs < 0 || o.source_addrs > 250)
    throw std::invalid_argument("--source-addrs must be 0..250");
  if (!o.create && o.campaign.empty())
    throw std::invalid_argument("--campaign ID is required unless --create");
  if (o.enter_rate < 0 || o.ramp_s < 0 || o.steady_s < 0 || o.timeout_s <= 0 ||
      o.max_duration_s <= 0)
    throw std::invalid_argument("rates and durations must be positive");
  if (pb::Queueing q = pb::QUEUEING_FIFO; !o.queueing.empty() && !ParseQueueing(o.queueing, &q))
    throw std::invalid_argument(std::string("--queueing must be ") + kFifo + " or " + kRandom);
}

// --- the coordinator -------------------------------------------------------

struct Worker {
  pid_t pid = -1;
  json progress;
  std::optional<Stats> result;
  bool done = false;
};

struct Probe {
  Histogram latency;  // connect + request, answered within the probe timeout
  uint64_t sent = 0, acked = 0, no_answer = 0;
  std::map<std::string, uint64_t> errors;
};

struct Rss {
  int64_t start_kb = -1, peak_kb = -1, end_kb = -1;
  std::vector<int64_t> phase_peak_kb;
};

int64_t ReadRssKb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

class Coordinator {
 public:
  Coordinator(const Options& o, const std::vector<Phase>& phases, const Target& t)
      : o_(o), phases_(phases), target_(t) {
    rss_.phase_peak_kb.assign(phases.size(), -1);
  }

  // Forks the workers (before this process has any thread), then watches.
  bool Run() {
    std::vector<int> fds;
    for (int w = 0; w < o_.procs; ++w) {
      int p[2];
      if (::pipe(p) != 0) return false;
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) return false;
      if (pid == 0) {
        ::close(p[0]);
        for (int fd : fds) ::close(fd);
        int rc = 1;
        try {
          rc = RunWorker(o_, phases_, w, p[1]);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "ticketload worker %d: %s\n", w, e.what());
        }
        std::fflush(nullptr);
        ::_exit(rc);
      }
      ::close(p[1]);
      fds.push_back(p[0]);
      workers_.emplace_back();
      workers_.back().pid = pid;
    }
    for (int w = 0; w < o_.procs; ++w)
      asio::co_spawn(io_, ReadWorker(w, fds[static_cast<size_t>(w)]), asio::detached);
    if (o_.probe_interval_ms > 0) asio::co_spawn(io_, ProbeLoop(), asio::detached);
    asio::co_spawn(io_, Monitor(), asio::detached);
    io_.run();
    end_s_ = static_cast<double>(NowUs()) / 1e6;
    bool ok = true;
    for (Worker& w : workers_) {
      int status = 0;
      ::waitpid(w.pid, &status, 0);
      if (!w.result) ok = false;
    }
    if (o_.server_pid) rss_.end_kb = ReadRssKb(o_.server_pid);
    return ok;
  }

  Stats Merged() const {
    Stats all;
    all.phases.resize(phases_.size());
    for (const Worker& w : workers_)
      if (w.result) all.Merge(*w.result);
    return all;
  }
  const Probe& probe() const { return probe_; }
  const Rss& rss() const { return rss_; }
  double end_s() const { return end_s_; }
  void SetRssStart(int64_t kb) { rss_.start_kb = rss_.peak_kb = kb; }

 private:
  bool AllDone() const {
    return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.done; });
  }

  asio::awaitable<void> ReadWorker(int w, int fd) {
    asio::posix::stream_descriptor in(io_, fd);
    std::string data;
    while (true) {
      auto [ec, n] = co_await asio::async_read_until(in, asio::dynamic_buffer(data), '\n', kAw);
      if (ec) break;
      json j = json::parse(std::string_view(data).substr(0, n - 1), nullptr, false);
      data.erase(0, n);
      if (j.is_discarded()) continue;
      if (j["type"] == "progress") {
        workers_[static_cast<size_t>(w)].progress = std::move(j);
      } else if (j["type"] == "result") {
        workers_[static_cast<size_t>(w)].result = Stats::FromJson(j["stats"]);
      }
    }
    workers_[static_cast<size_t>(w)].done = true;
    if (!workers_[static_cast<size_t>(w)].result)
      std::fprintf(stderr, "ticketload: worker %d ended without a result\n", w);
  }

  // The newcomer: every --probe-interval-ms a fresh connection enters a new
  // user; latency is connect + request, and no answer within
  // --probe-timeout-s counts as such.
  asio::awaitable<void> ProbeLoop() {
    asio::steady_timer timer(io_);
    for (uint64_t n = 0; !AllDone(); ++n) {
      const int64_t at = static_cast<int64_t>(n) * o_.probe_interval_ms * 1000;
      if (at > NowUs()) {
        timer.expires_at(g_t0 + std::chrono::microseconds(at));
        co_await timer.async_wait(kAw);
        if (AllDone()) break;
      }
      asio::co_spawn(io_, ProbeOne(n), asio::detached);
    }
  }

  asio::awaitable<void> ProbeOne(uint64_t n) {
    ++probe_.sent;
    const std::string user = UserName(o_.user_prefix, Kind::kProbe, n);
    const int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() +
                        3600;
    auto req = EntryRequest(target_, o_.probe_campaign,
                            api::MintJwt(api::Claims{user, false, exp}, o_.jwt_secret));
    const int64_t start = NowUs();
    const auto deadline = std::chrono::steady_clock::now() + Seconds(o_.probe_timeout_s);
    beast::tcp_stream s(io_);
    std::string error;
    int status = 0;
    if (error_code ec =
            co_await Connect(s, target_, SourceAddress(o_.source_addrs, n), o_.probe_timeout_s)) {
      error = ErrorKind(ec, true);
    } else {
      s.expires_at(deadline);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      if (auto [ec, _] = co_await http::async_write(s, req, kAw); ec) {
        error = ErrorKind(ec, false);
      } else if (auto [rec, __] = co_await http::async_read(s, buf, res, kAw); rec) {
        error = ErrorKind(rec, false);
      } else {
        status = res.result_int();
      }
    }
    const int64_t took = NowUs() - start;
    if (status == 0 && (error == "timeout" || error == "connect_timeout")) {
      ++probe_.no_answer;
    } else if (status != 0) {
      probe_.latency.Record(took);
    }
    if (status == 202) {
      ++probe_.acked;
    } else {
      ++probe_.errors[status ? "http_" + std::to_string(status) : error];
    }
  }

  asio::awaitable<void> Monitor() {
    asio::steady_timer timer(io_);
    int64_t next_print = 1'000'000;
    for (int64_t tick = 1; !AllDone(); ++tick) {
      timer.expires_at(g_t0 + std::chrono::milliseconds(250 * tick));
      co_await timer.async_wait(kAw);
      const int64_t now = NowUs();
      if (o_.server_pid) {
        const int64_t kb = ReadRssKb(o_.server_pid);
        rss_.peak_kb = std::max(rss_.peak_kb, kb);
        int64_t& ph = rss_.phase_peak_kb[static_cast<size_t>(
            PhaseAt(phases_, static_cast<double>(now) / 1e6))];
        ph = std::max(ph, kb);
      }
      if (now >= next_print && !o_.quiet) {
        next_print += 1'000'000;
        PrintProgress(now);
      }
    }
  }

  void PrintProgress(int64_t now) {
    uint64_t v[6] = {0, 0, 0, 0, 0, 0};
    const char* keys[6] = {"arrivals", "acked", "watching", "finished", "errors", "streams"};
    for (const Worker& w : workers_)
      for (int i = 0; i < 6; ++i)
        if (w.progress.contains(keys[i])) v[i] += w.progress[keys[i]].get<uint64_t>();
    std::string line;
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "[%6.1fs] arrivals %llu  acked %llu  watching %llu (streams open %llu)  finished %llu  "
        "errors %llu",
        static_cast<double>(now) / 1e6, static_cast<unsigned long long>(v[0]),
        static_cast<unsigned long long>(v[1]), static_cast<unsigned long long>(v[2]),
        static_cast<unsigned long long>(v[5]), static_cast<unsigned long long>(v[3]),
        static_cast<unsigned long long>(v[4]));
    line = buf;
    if (probe_.sent) {
      std::snprintf(buf, sizeof buf, "  | probes %llu (no answer %llu, p50 %.1f ms)",
                    static_cast<unsigned long long>(probe_.sent),
                    static_cast<unsigned long long>(probe_.no_answer),
                    static_cast<double>(probe_.latency.Percentile(0.5)) / 1e3);
      line += buf;
    }
    if (o_.server_pid && rss_.peak_kb >= 0) {
      std::snprintf(buf, sizeof buf, "  | server RSS peak %.1f MB",
                    static_cast<double>(rss_.peak_kb) / 1024);
      line += buf;
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  const Options& o_;
  const std::vector<Phase>& phases_;
  const Target& target_;
  asio::io_context io_{1};
  std::vector<Worker> workers_;
  Probe probe_;
  Rss rss_;
  double end_s_ = 0;
};

// --- the report --------------------------------------------------------------

double Ms(uint64_t us) { return static_cast<double>(us) / 1e3; }

json Summary(const Histogram& h) {
  return {{"n", h.count()},
          {"p50_ms", Ms(h.Percentile(0.5))},
          {"p90_ms", Ms(h.Percentile(0.9))},
          {"p95_ms", Ms(h.Percentile(0.95))},
          {"p99_ms", Ms(h.Percentile(0.99))},
          {"p999_ms", Ms(h.Percentile(0.999))},
          {"max_ms", Ms(h.max())},
          {"mean_ms", h.mean() / 1e3}};
}

uint64_t SumBins(const std::vector<uint64_t>& bins, size_t from, size_t to) {
  uint64_t n = 0;
  for (size_t i = from; i < to && i < bins.size(); ++i) n += bins[i];
  return n;
}

// Update lag: when a user's first message with serving >= its position
// arrived, against the first time ANY watcher saw the serving counter reach
// that position (min over every serving value >= position ever seen).
std::vector<Histogram> LagByPhase(const Stats& s, size_t phases) {
  std::vector<std::pair<uint64_t, int64_t>> seen(s.serving_first.begin(), s.serving_first.end());
  for (size_t i = seen.size(); i-- > 1;)
    seen[i - 1].second = std::min(seen[i - 1].second, seen[i].second);
  std::vector<Histogram> lag(phases);
  for (const VuRecord& r : s.records) {
    if (r.t_reach < 0 || r.position == 0) continue;
    auto it = std::lower_bound(seen.begin(), seen.end(), std::make_pair(r.position, INT64_MIN));
    if (it == seen.end()) continue;
    lag[static_cast<size_t>(r.phase)].Record(r.t_reach - it->second);
  }
  return lag;
}

// One row per phase; `total` and `lag_total` gather them.
json PhaseRows(const Options& o, const std::vector<Phase>& phases, const Stats& s, const Rss& rss,
               double end_s, PhaseStats* total, Histogram* lag_total) {
  const std::vector<Histogram> lag = LagByPhase(s, phases.size());
  json rows = json::array();
  size_t bin_from = 0;  // rates count 202s per 100 ms bin: phases get whole bins
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    const PhaseStats& ps = s.phases[i];
    double end = std::min(p.end_s, end_s);
    const size_t bin_to = std::max(bin_from + 1, static_cast<size_t>(std::ceil(end * 10 - 1e-6)));
    const double bin_secs = static_cast<double>(bin_to - bin_from) / 10;
    if (o.requests) {  // closed loop: first send to last answer
      end = static_cast<double>(s.last_ack) / 1e6;
    }
    const double start = o.requests ? static_cast<double>(s.first_send) / 1e6 : p.start_s;
    const double secs = std::max(end - start, 1e-3);
    const uint64_t acks = SumBins(s.ack_bins, bin_from, bin_to);
    const uint64_t bg_acks = SumBins(s.bg_ack_bins, bin_from, bin_to);
    bin_from = bin_to;
    json row = {{"name", p.name},
                {"start_s", start},
                {"end_s", end},
                {"arrivals", ps.arrivals},
                {"acked", ps.acked},
                {"entries_per_s", o.requests ? static_cast<double>(ps.acked) / secs
                                             : static_cast<double>(acks) / bin_secs},
                {"ack", Summary(ps.ack)},
                {"connect", Summary(ps.connect)},
                {"first_update", Summary(ps.first_update)},
                {"lag", Summary(lag[i])},
                {"errors", ps.errors},
                {"background",
                 {{"arrivals", ps.bg_arrivals},
                  {"acked", ps.bg_acked},
                  {"entries_per_s", static_cast<double>(bg_acks) / bin_secs},
                  {"ack", Summary(ps.bg_ack)}}}};
    if (o.server_pid && rss.phase_peak_kb[i] >= 0)
      row["server_rss_peak_mb"] = static_cast<double>(rss.phase_peak_kb[i]) / 1024;
    rows.push_back(row);
    total->Merge(ps);
    lag_total->Merge(lag[i]);
  }
  return rows;
}

// The live channel's watchers; null when nobody watched.
json WatchersJson(const Stats& s, const PhaseStats& total, const Histogram& lag_total) {
  uint64_t watchers = 0, live = 0, reconnects = 0;
  for (const VuRecord& r : s.records) {
    watchers += r.watched;
    live += r.watched && r.outcome != Outcome::kNone;
    reconnects += r.reconnects;
  }
  if (watchers == 0) return nullptr;
  uint64_t held = 0;
  for (uint64_t v : s.watching_bins) held = std::max(held, v);
  return {{"watchers", watchers},
          {"streams_held_peak", held},
          {"got_outcome_live", live},
          {"messages", s.messages},
          {"heartbeats", s.comments},
          {"reconnects", reconnects},
          {"updates_per_watcher",
           {{"min", s.updates.min()},
            {"p50", s.updates.Percentile(0.5)},
            {"max", s.updates.max()},
            {"mean", s.updates.mean()}}},
          {"max_gap", Summary(s.max_gap)},
          {"first_update", Summary(total.first_update)},
          {"lag", Summary(lag_total)}};
}

json BuildReport(const Options& o, const std::vector<Phase>& phases, const Stats& s,
                 const Probe& probe, const Rss& rss, double end_s) {
  json out;
  out["campaign"] = o.campaign;
  out["url"] = o.url;
  out["profile"] = o.profile;
  out["mode"] = o.requests ? "closed" : "open";
  out["options"] = {
      {"users", o.users},        {"ramp_s", o.ramp_s},         {"steady_s", o.steady_s},
      {"stages", o.stages_spec}, {"start_rate", o.start_rate}, {"requests", o.requests},
      {"conns", o.conns},        {"watch", o.watch},           {"enter_rate", o.enter_rate},
      {"procs", o.procs},        {"threads", o.threads},       {"source_addrs", o.source_addrs},
      {"stock", o.stock},        {"win_bps", o.win_bps},       {"admission_rate", o.admission_rate},
      {"create", o.create}};
  out["duration_s"] = end_s;
  PhaseStats total;
  Histogram lag_total;
  out["phases"] = PhaseRows(o, phases, s, rss, end_s, &total, &lag_total);
  const double first = std::min(0.0, static_cast<double>(s.first_send) / 1e6);
  const double active = std::max(static_cast<double>(s.last_ack) / 1e6 - first, 1e-3);
  const uint64_t attempted = total.arrivals + total.bg_arrivals;
  const uint64_t failed = attempted - total.acked - total.bg_acked;
  out["total"] = {
      {"arrivals", total.arrivals},
      {"acked", total.acked},
      {"background_arrivals", total.bg_arrivals},
      {"background_acked", total.bg_acked},
      {"failed", failed},
      {"fail_rate", attempted ? static_cast<double>(failed) / attempted : 0.0},
      {"entries_per_s", static_cast<double>(total.acked + total.bg_acked) / active},
      {"ack", Summary(total.ack)},
      {"connect", Summary(total.connect)},
      {"first_update", Summary(total.first_update)},
      {"lag", Summary(lag_total)},
      {"background_ack", Summary(total.bg_ack)},
      {"errors", total.errors},
      {"client_lag_max_ms", Ms(static_cast<uint64_t>(std::max<int64_t>(0, s.client_lag_max)))}};
  if (o.requests) {
    const double secs = std::max(static_cast<double>(s.last_ack - s.first_send) / 1e6, 1e-6);
    out["closed_loop"] = {{"requests", o.requests},
                          {"concurrency", o.conns},
                          {"complete", total.acked},
                          {"failed", failed},
                          {"seconds", secs},
                          {"requests_per_s", static_cast<double>(total.acked) / secs},
                          {"time_per_request_ms", total.ack.mean() / 1e3},
                          {"p50_ms", Ms(total.ack.Percentile(0.5))},
                          {"p99_ms", Ms(total.ack.Percentile(0.99))}};
  }
  if (json w = WatchersJson(s, total, lag_total); !w.is_null()) out["watchers"] = w;
  if (probe.sent) {
    out["probe"] = {{"campaign", o.probe_campaign},   {"sent", probe.sent},
                    {"acked", probe.acked},           {"no_answer", probe.no_answer},
                    {"timeout_s", o.probe_timeout_s}, {"latency", Summary(probe.latency)},
                    {"errors", probe.errors}};
  }
  if (o.server_pid) {
    auto mb = [](int64_t kb) { return kb < 0 ? json() : json(static_cast<double>(kb) / 1024); };
    out["server_rss_mb"] = {
        {"start", mb(rss.start_kb)}, {"peak", mb(rss.peak_kb)}, {"end", mb(rss.end_kb)}};
  }
  return out;
}

std::string Fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// A JSON count as printf's %llu wants it.
unsigned long long Ull(const json& v) { return v.get<uint64_t>(); }

std::string Errors(const json& e) {
  std::string s;
  for (auto it = e.begin(); it != e.end(); ++it)
    s += (s.empty() ? "" : ", ") + it.key() + " " + std::to_string(it.value().get<uint64_t>());
  return s.empty() ? "-" : s;
}

// The phase table and each phase's errors.
void PrintPhases(const json& r) {
  std::printf("\nticketload: campaign %s at %s%s, %.1f s\n\n",
              r["campaign"].get<std::string>().c_str(), r["url"].get<std::string>().c_str(),
              r["profile"].get<std::string>().empty()
                  ? ""
                  : (", profile " + r["profile"].get<std::string>()).c_str(),
              r["duration_s"].get<double>());
  std::printf("%-20s %7s %8s %8s %9s | %24s %15s | %13s %13s\n", "", "", "", "", "",
              "ack latency (ms)", "", "1st update ms", "lag ms");
  std::printf("%-20s %7s %8s %8s %9s | %7s %7s %7s %7s %7s | %6s %6s | %6s %6s\n", "phase", "secs",
              "arrived", "acked", "entries/s", "p50", "p90", "p99", "p99.9", "max", "p50", "p99",
              "p50", "p99");
  // A latency cell: "-" when nothing was measured.
  auto cell = [](const json& h, const char* key, int width, int prec) {
    if (h["n"].get<uint64_t>() == 0) return Fmt("%*s", width, "-");
    return Fmt("%*.*f", width, prec, h[key].get<double>());
  };
  auto row = [&](const std::string& name, double secs, const json& p) {
    const json &a = p["ack"], &f = p["first_update"], &l = p["lag"];
    std::printf("%-20s %7.1f %8llu %8llu %9.1f | %s %s %s %s %s | %s %s | %s %s\n", name.c_str(),
                secs, Ull(p["arrivals"]), Ull(p["acked"]), p["entries_per_s"].get<double>(),
                cell(a, "p50_ms", 7, 2).c_str(), cell(a, "p90_ms", 7, 2).c_str(),
                cell(a, "p99_ms", 7, 2).c_str(), cell(a, "p999_ms", 7, 2).c_str(),
                cell(a, "max_ms", 7, 2).c_str(), cell(f, "p50_ms", 6, 1).c_str(),
                cell(f, "p99_ms", 6, 1).c_str(), cell(l, "p50_ms", 6, 1).c_str(),
                cell(l, "p99_ms", 6, 1).c_str());
  };
  for (const json& p : r["phases"]) {
    row(p["name"], p["end_s"].get<double>() - p["start_s"].get<double>(), p);
  }
  row("total", r["duration_s"].get<double>(), r["total"]);
  std::printf("\n");
  for (const json& p : r["phases"]) {
    std::string extra;
    const json& bg = p["background"];
    if (bg["arrivals"].get<uint64_t>())
      extra += Fmt(
          "  entering stream: %llu arrived, %llu acked, %.1f entries/s, p50 %.2f ms, p99 %.2f ms",
          Ull(bg["arrivals"]), Ull(bg["acked"]), bg["entries_per_s"].get<double>(),
          bg["ack"]["p50_ms"].get<double>(), bg["ack"]["p99_ms"].get<double>());
    if (p.contains("server_rss_peak_mb"))
      extra += Fmt("  server RSS peak %.1f MB", p["server_rss_peak_mb"].get<double>());
    std::printf("%-20s errors: %s%s\n", p["name"].get<std::string>().c_str(),
                Errors(p["errors"]).c_str(), extra.c_str());
  }
}

// The totals and the sections only some runs have.
void PrintTotals(const json& r) {
  const json& t = r["total"];
  std::printf(
      "\nentries: %llu acked of %llu (+ %llu of %llu in the entering stream), failed %llu "
      "(%.3f%%), connect p50 %.2f ms p99 %.2f ms, generator lag max %.1f ms\n",
      Ull(t["acked"]), Ull(t["arrivals"]), Ull(t["background_acked"]),
      Ull(t["background_arrivals"]), Ull(t["failed"]), 100 * t["fail_rate"].get<double>(),
      t["connect"]["p50_ms"].get<double>(), t["connect"]["p99_ms"].get<double>(),
      t["client_lag_max_ms"].get<double>());
  if (r.contains("closed_loop")) {
    const json& c = r["closed_loop"];
    std::printf(
        "closed loop (ab -k -n %llu -c %llu): %llu complete, %llu failed, %.3f s, %.1f "
        "requests/s, time per request %.2f ms, p50 %.2f ms, p99 %.2f ms\n",
        Ull(c["requests"]), Ull(c["concurrency"]), Ull(c["complete"]), Ull(c["failed"]),
        c["seconds"].get<double>(), c["requests_per_s"].get<double>(),
        c["time_per_request_ms"].get<double>(), c["p50_ms"].get<double>(),
        c["p99_ms"].get<double>());
  }
  if (r.contains("watchers")) {
    const json& w = r["watchers"];
    std::printf(
        "watchers: %llu (streams held at once: %llu), outcome seen live %llu, %llu messages, "
        "%llu heartbeats, %llu reconnects; updates per watcher min %llu p50 %llu max %llu%s\n",
        Ull(w["watchers"]), Ull(w["streams_held_peak"]), Ull(w["got_outcome_live"]),
        Ull(w["messages"]), Ull(w["heartbeats"]), Ull(w["reconnects"]),
        Ull(w["updates_per_watcher"]["min"]), Ull(w["updates_per_watcher"]["p50"]),
        Ull(w["updates_per_watcher"]["max"]),
        w["max_gap"]["n"].get<uint64_t>() == 0
            ? ""
            : Fmt("; largest gap between messages p50 %.0f ms p99 %.0f ms max %.0f ms",
                  w["max_gap"]["p50_ms"].get<double>(), w["max_gap"]["p99_ms"].get<double>(),
                  w["max_gap"]["max_ms"].get<double>())
                  .c_str());
    std::printf(
        "live channel: 202 -> first update p50 %.1f ms p99 %.1f ms; update lag p50 %.1f "
        "ms p99 %.1f ms max %.1f ms\n",
        w["first_update"]["p50_ms"].get<double>(), w["first_update"]["p99_ms"].get<double>(),
        w["lag"]["p50_ms"].get<double>(), w["lag"]["p99_ms"].get<double>(),
        w["lag"]["max_ms"].get<double>());
  }
  if (r.contains("probe")) {
    const json& p = r["probe"];
    std::printf(
        "newcomer probe (campaign %s): %llu sent, %llu acked, %llu no answer within %.0f s; "
        "latency "
        "(connect + request) p50 %.1f ms p99 %.1f ms max %.1f ms; errors: %s\n",
        p["campaign"].get<std::string>().c_str(), Ull(p["sent"]), Ull(p["acked"]),
        Ull(p["no_answer"]), p["timeout_s"].get<double>(), p["latency"]["p50_ms"].get<double>(),
        p["latency"]["p99_ms"].get<double>(), p["latency"]["max_ms"].get<double>(),
        Errors(p["errors"]).c_str());
  }
  if (r.contains("server_rss_mb")) {
    const json& m = r["server_rss_mb"];
    auto v = [](const json& x) { return x.is_number() ? x.get<double>() : -1.0; };
    std::printf("server RSS: start %.1f MB, peak %.1f MB, end %.1f MB\n", v(m["start"]),
                v(m["peak"]), v(m["end"]));
  }
}

void PrintReport(const json& r) {
  PrintPhases(r);
  PrintTotals(r);
}

// Creates a campaign and waits until it is readable (the engine decides the
// create). An existing one is fine when `may_exist`.
bool CreateCampaign(const Target& target, const std::string& admin, const json& body,
                    bool may_exist) {
  const std::string id = body["id"];
  HttpResult r = SyncRequest(target, http::verb::post, "/v1/admin/campaigns", admin, body.dump());
  const bool ok = r.status == 201 || r.status == 200 || r.status == 202;
  if (!ok && !(may_exist && r.status == 409)) {
    std::fprintf(stderr, "ticketload: creating campaign %s failed: %d %s\n", id.c_str(), r.status,
                 r.body.c_str());
    return false;
  }
  for (int i = 0; i < 100; ++i) {
    if (SyncRequest(target, http::verb::get, "/v1/campaigns/" + id, "", "").status == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "ticketload: campaign %s is not readable after creating it\n", id.c_str());
  return false;
}

void AddFlags(CLI::App& app, Options& o) {
  app.add_option("--profile", o.profile,
                 "Scenario defaults (flags given win): gke, booking, ab, payment, crowd");
  app.add_option("--url", o.url, "ticketd base URL, http://host:port")->capture_default_str();
  app.add_option("--campaign", o.campaign, "Campaign id (default with --create: load-<time>)");
  app.add_flag("--create,!--no-create", o.create,
               "Create the campaign first (POST /v1/admin/campaigns with an admin JWT)");
  app.add_option("--stock", o.stock, "With --create: stock")->capture_default_str();
  app.add_option("--win-bps", o.win_bps, "With --create: win probability in basis points")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("--admission-rate", o.admission_rate,
                 "With --create: positions admitted per second (0 = at once)")
      ->capture_default_str();
  app.add_option("--queueing", o.queueing, "With --create: fifo or random");
  app.add_option("--jwt-secret", o.jwt_secret,
                 "HS256 secret for user and admin tokens (default: ticketd --dev's)")
      ->envname("TICKETD_JWT_SECRET");
  app.add_option("--stages", o.stages_spec,
                 "Ramping arrival rate, k6 style: DUR:RATE,... e.g. 10s:100,20s:400 (rate "
                 "arrivals/s reached linearly by the end of each stage)");
  app.add_option("--start-rate", o.start_rate, "Arrival rate at the start of --stages")
      ->capture_default_str();
  app.add_option("--users", o.users, "N users arriving evenly over --ramp-s");
  app.add_option("--ramp-s", o.ramp_s, "Seconds over which --users arrive (0 = all at once)")
      ->capture_default_str();
  app.add_option("--steady-s", o.steady_s,
                 "A 'steady' phase after the ramp (the entering stream goes on)")
      ->capture_default_str();
  app.add_option("--requests", o.requests,
                 "Closed loop (ab -k -n): N entries, each a new user, back to back over --conns");
  app.add_option("--conns", o.conns,
                 "Keep-alive connection pool for entries (0 = one connection per user)")
      ->capture_default_str();
  app.add_flag("--watch,!--no-watch", o.watch,
               "After its 202 each user follows GET /events (SSE) until its outcome");
  app.add_option("--enter-rate", o.enter_rate,
                 "A separate stream of entering users (entries/s, fresh connection each, no "
                 "watch) while the main users are active")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Threads (one io_context each) per process")
      ->capture_default_str();
  app.add_option("--procs", o.procs,
                 "Worker processes splitting the users (each has its own 20,000-file limit)")
      ->capture_default_str();
  app.add_option("--source-addrs", o.source_addrs,
                 "Bind client sockets round-robin to 127.0.0.2.. (N addresses; 0 = kernel's "
                 "choice) for more than ~28k ports")
      ->capture_default_str();
  app.add_option("--timeout-s", o.timeout_s, "Deadline of one request (else error 'timeout')")
      ->capture_default_str();
  app.add_option("--connect-timeout-s", o.connect_timeout_s, "Deadline of a TCP connect")
      ->capture_default_str();
  app.add_option("--watch-timeout-s", o.watch_timeout_s, "Longest a user watches for its outcome")
      ->capture_default_str();
  app.add_option("--stream-idle-s", o.stream_idle_s,
                 "A stream silent this long (no event, no heartbeat) counts as dropped")
      ->capture_default_str();
  app.add_option("--stream-retries", o.stream_retries,
                 "Reconnects (with Last-Event-ID) per watcher before it gives up")
      ->capture_default_str();
  app.add_option("--probe-interval-ms", o.probe_interval_ms,
                 "Newcomer probe: a fresh connection entering a new user this often (0 = off)")
      ->capture_default_str();
  app.add_option("--probe-campaign", o.probe_campaign,
                 "Campaign the probes enter, so they leave the drop's counts alone (default: "
                 "<campaign>-probe, created if missing)");
  app.add_option("--probe-timeout-s", o.probe_timeout_s, "A probe unanswered this long: no answer")
      ->capture_default_str();
  app.add_option("--max-duration-s", o.max_duration_s,
                 "Hard stop of the load; unfinished users are reported")
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "ticketd's pid: report its VmRSS (start/peak/end)");
  app.add_option("--json", o.json_out, "Write the report (and checks) as JSON to this file");
  app.add_option("--user-prefix", o.user_prefix, "User ids are PREFIX-N (default: unique per run)");
  app.add_option("--settle-s", o.settle_s,
                 "After the load, wait this long at most for every position to be decided")
      ->capture_default_str();
  app.add_option("--postgres-url", o.postgres_url,
                 "Cross-check the PostgreSQL read model (libpq URL)");
  app.add_option("--postgres-schema", o.postgres_schema, "Its schema (ticketd --postgres-schema)")
      ->capture_default_str();
  app.add_option("--threshold-p95-ms", o.threshold_p95_ms,
                 "Fail unless the entries' p95 latency is below this (0 = off)")
      ->capture_default_str();
  app.add_option("--threshold-fail-rate", o.threshold_fail_rate,
                 "Fail unless the share of entries without a 202 is below this (e.g. 0.001; "
                 "negative = off)")
      ->capture_default_str();
  app.add_option("--expect-won", o.expect_won, "Check: exactly this many won");
  app.add_option("--expect-sold-out", o.expect_sold_out, "Check: exactly this many sold out");
  app.add_option("--expect-lost", o.expect_lost, "Check: exactly this many lost");
  app.add_flag("--check-win-rate,!--no-check-win-rate", o.check_win_rate,
               "Check: won/(won+lost) within the 99.9% binomial region of the win rate");
  app.add_option("--expect-win-bps", o.expect_win_bps,
                 "The win rate --check-win-rate expects (default: the campaign's)");
  app.add_flag("--skip-checks", o.skip_checks, "Only the thresholds; no invariant checks");
  app.add_flag("--quiet", o.quiet, "No progress lines on stderr");
}

// ticketd reachable, the campaign created (--create) and readable, the
// probe campaign created; false (said on stderr) otherwise.
bool PrepareCampaigns(const Target& target, const std::string& admin, Options& o) {
  if (HttpResult h = SyncRequest(target, http::verb::get, "/healthz", "", "", 5); h.status == 0) {
    std::fprintf(stderr, "ticketload: cannot reach ticketd at %s: %s\n", o.url.c_str(),
                 h.body.c_str());
    return false;
  }
  if (o.create) {
    json body = {{"id", o.campaign},
                 {"stock", o.stock},
                 {"win_bps", o.win_bps},
                 {"admission_rate_per_s", o.admission_rate}};
    if (!o.queueing.empty()) body["queueing"] = o.queueing;
    if (!CreateCampaign(target, admin, body, false)) return false;
  }
  HttpResult c = SyncRequest(target, http::verb::get, "/v1/campaigns/" + o.campaign, "", "");
  if (c.status != 200) {
    std::fprintf(stderr, "ticketload: campaign %s is not readable: %d %s\n", o.campaign.c_str(),
                 c.status, c.body.c_str());
    return false;
  }
  if (o.probe_interval_ms > 0) {
    if (o.probe_campaign.empty()) o.probe_campaign = o.campaign.substr(0, 58) + "-probe";
    json body = {{"id", o.probe_campaign},
                 {"stock", 1'000'000'000},
                 {"win_bps", 500},
                 {"admission_rate_per_s", 0}};
    if (!CreateCampaign(target, admin, body, true)) return false;
  }
  return true;
}

// The latency and failure thresholds, as checks.
void AddThresholds(const Options& o, const json& total, std::vector<CheckResult>* checks) {
  if (o.threshold_p95_ms > 0) {
    const double p95 = total["ack"]["p95_ms"].get<double>();
    checks->push_back({"threshold: entry p95 < " + Fmt("%g", o.threshold_p95_ms) + " ms",
                       total["ack"]["n"].get<uint64_t>() > 0 && p95 < o.threshold_p95_ms,
                       Fmt("p95 %.2f ms", p95)});
  }
  if (o.threshold_fail_rate >= 0) {
    const double rate = total["fail_rate"].get<double>();
    checks->push_back(
        {"threshold: failures < " + Fmt("%g%%", 100 * o.threshold_fail_rate),
         rate < o.threshold_fail_rate || (rate == 0 && o.threshold_fail_rate == 0),
         Fmt("%.4f%% (%llu of %llu)", 100 * rate, Ull(total["failed"]),
             static_cast<unsigned long long>(total["arrivals"].get<uint64_t>() +
                                             total["background_arrivals"].get<uint64_t>()))});
  }
}

// Prints the checks, records them in the report, writes it (--json);
// returns the exit code.
int ReportChecks(const Options& o, const std::vector<CheckResult>& checks, json* report) {
  bool pass = true;
  json jchecks = json::array();
  std::printf("\nchecks:\n");
  for (const CheckResult& ch : checks) {
    pass = pass && ch.pass;
    std::printf("  %s  %s: %s\n", ch.pass ? "PASS" : "FAIL", ch.name.c_str(), ch.detail.c_str());
    jchecks.push_back({{"name", ch.name}, {"pass", ch.pass}, {"detail", ch.detail}});
  }
  if (checks.empty()) std::printf("  (none)\n");
  std::printf("%s\n", pass ? "ALL PASS" : "FAILED");
  (*report)["checks"] = jchecks;
  (*report)["pass"] = pass;
  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out);
    f << report->dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "ticketload: cannot write %s\n", o.json_out.c_str());
      return 2;
    }
  }
  return pass ? 0 : 1;
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  CLI::App app{
      "ticketload: drives a ticket drop against a running ticketd and checks its invariants.\n"
      "Exit 0 only when every check passes and the thresholds hold; 2 on bad flags or when\n"
      "the run could not be made."};
  app.get_formatter()->column_width(34);
  AddFlags(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  Target target;
  try {
    ApplyProfile(app, o);
    Validate(o);
    target = ParseUrl(o.url);
    if (o.source_addrs > 0 && !target.endpoint.address().is_loopback())
      throw std::invalid_argument(
          "--source-addrs binds 127.0.0.x: the --url must be on 127.0.0.0/8");
    if (o.source_addrs > 0 && !target.endpoint.address().is_v4())
      throw std::invalid_argument("--source-addrs needs an IPv4 --url (127.0.0.1)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ticketload: %s (see --help)\n", e.what());
    return 2;
  }
  if (o.jwt_secret.empty()) o.jwt_secret = app::kDevJwtSecret;
  const auto epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  if (o.campaign.empty()) o.campaign = "load-" + std::to_string(epoch_ms);
  if (o.user_prefix.empty())
    o.user_prefix = "tl" + std::to_string(epoch_ms % 100'000'000) + "." + std::to_string(getpid());

  const int64_t admin_exp = epoch_ms / 1000 + 24 * 3600;
  const std::string admin = api::MintJwt(api::Claims{"ticketload", true, admin_exp}, o.jwt_secret);
  if (!PrepareCampaigns(target, admin, o)) return 2;
  const std::vector<Phase> phases = MakePhases(o);
  const std::vector<int64_t> times = ArrivalTimes(o);
  if (!o.quiet) {
    std::fprintf(stderr,
                 "ticketload: campaign %s, %zu users%s%s, %d procs x %d threads, conns %u, user "
                 "prefix %s\n",
                 o.campaign.c_str(), times.size(), o.watch ? " watching" : "",
                 o.requests ? " (closed loop)" : "", o.procs, o.threads, o.conns,
                 o.user_prefix.c_str());
  }

  Coordinator coord(o, phases, target);
  if (o.server_pid) coord.SetRssStart(ReadRssKb(o.server_pid));
  g_t0 = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  if (!coord.Run()) {
    std::fprintf(stderr, "ticketload: a worker failed; no report\n");
    return 2;
  }
  const Stats all = coord.Merged();
  json report = BuildReport(o, phases, all, coord.probe(), coord.rss(), coord.end_s());
  PrintReport(report);

  // Checks.
  std::vector<CheckResult> checks;
  if (!o.skip_checks) {
    std::vector<AckedUser> acked;
    for (const VuRecord& r : all.records)
      if (r.status == 202)
        acked.push_back({UserName(o.user_prefix, r.kind, r.index), r.watched, r.outcome});
    json api;
    checks = CheckDrop(o, target, acked, &api);
    report["api"] = api;
  }
  AddThresholds(o, report["total"], &checks);
  return ReportChecks(o, checks, &report);
}

}  // namespace
}  // namespace tl::load

int main(int argc, char** argv) { return tl::load::Main(argc, argv); }
