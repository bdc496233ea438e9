// ticketload: drives a ticket drop against a running ticketd from the outside
// and checks the drop's invariants afterwards. Shared types of its parts:
// ticketload.cc (flags, profiles, the coordinating parent, the report),
// ticketload_worker.cc (the load itself, one io_context per thread, in each
// worker process), ticketload_http.cc (HTTP/SSE over Beast), and
// ticketload_checks.cc (the invariant checks through the API and SQL).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "benchmarks/ticketload_hist.h"
#include "nlohmann/json.hpp"

namespace tl::load {

using json = nlohmann::json;

struct Stage {
  double seconds = 0;
  double rate = 0;  // arrivals/s reached at the end of the stage (linear ramp)
};

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string campaign;
  bool create = false;
  uint64_t stock = 1000;
  uint32_t win_bps = 500;
  uint32_t admission_rate = 0;
  std::string queueing;
  std::string jwt_secret;
  std::string profile;
  // Arrivals: stages (k6 ramping-arrival-rate), or N users spread over a ramp,
  // or a closed loop of `requests` over `conns` connections.
  std::string stages_spec;
  double start_rate = 0;
  std::vector<Stage> stages;
  uint64_t users = 0;
  double ramp_s = 0;
  double steady_s = 0;
  uint64_t requests = 0;
  uint32_t conns = 0;
  bool watch = false;
  double enter_rate = 0;
  int threads = 2;
  int procs = 1;
  int source_addrs = 0;
  double timeout_s = 10;
  double connect_timeout_s = 5;
  double watch_timeout_s = 300;
  double stream_idle_s = 60;
  int stream_retries = 5;
  int probe_interval_ms = 500;
  std::string probe_campaign;
  double probe_timeout_s = 5;
  double max_duration_s = 600;
  int server_pid = 0;
  std::string json_out;
  std::string user_prefix;
  double settle_s = 60;
  std::string postgres_url;
  std::string postgres_schema = "ticketledger";
  double threshold_p95_ms = 0;
  double threshold_fail_rate = -1;
  int64_t expect_won = -1;
  int64_t expect_sold_out = -1;
  int64_t expect_lost = -1;
  bool check_win_rate = false;
  int64_t expect_win_bps = -1;
  bool skip_checks = false;
  bool quiet = false;
};

// A window of the run, by scheduled arrival time (seconds from the start).
struct Phase {
  std::string name;
  double start_s = 0;
  double end_s = std::numeric_limits<double>::infinity();
};

enum class Kind : uint8_t { kMain = 0, kBackground = 1, kProbe = 2 };

enum class Outcome : uint8_t { kNone = 0, kWon, kLost, kSoldOut, kCancelled, kRejected };
const char* OutcomeName(Outcome o);
Outcome OutcomeFromName(std::string_view s);

// What happened to one virtual user. Times are microseconds from the start.
struct VuRecord {
  uint64_t index = 0;
  Kind kind = Kind::kMain;
  int phase = 0;
  int status = 0;  // HTTP status of the entry, 0 = no answer
  bool done = false;
  bool watched = false;
  Outcome outcome = Outcome::kNone;  // the final status seen on the live channel
  uint64_t position = 0;
  int64_t t_arrival = 0;
  int64_t t_ack = -1;
  int64_t t_first_update = -1;
  int64_t t_reach = -1;  // first message with serving >= position
  uint32_t updates = 0;
  int64_t max_gap = 0;
  uint32_t reconnects = 0;
};

std::string UserName(const std::string& prefix, Kind kind, uint64_t index);

struct PhaseStats {
  Histogram ack;           // arrival (closed loop: send) -> 202
  Histogram connect;       // TCP connect
  Histogram first_update;  // 202 -> first message on the live channel
  Histogram bg_ack;        // the separate entering stream
  uint64_t arrivals = 0, acked = 0, bg_arrivals = 0, bg_acked = 0;
  std::map<std::string, uint64_t> errors;

  void Merge(const PhaseStats& o);
};

// One worker's (or the merged run's) measurements.
struct Stats {
  std::vector<PhaseStats> phases;
  std::vector<uint64_t> ack_bins, bg_ack_bins, watching_bins;  // per 100 ms
  Histogram updates;                                           // messages per watcher
  Histogram max_gap;      // largest gap between two messages, per watcher
  uint64_t messages = 0;  // status messages received
  uint64_t comments = 0;  // heartbeats
  int64_t first_send = std::numeric_limits<int64_t>::max();
  int64_t last_ack = std::numeric_limits<int64_t>::min();
  int64_t client_lag_max = 0;                 // how late the generator launched an arrival
  std::map<uint64_t, int64_t> serving_first;  // serving value -> first seen
  std::deque<VuRecord> records;

  void Error(int phase, const std::string& kind) { ++phases.at(phase).errors[kind]; }
  static void Bin(std::vector<uint64_t>& bins, int64_t t_us, uint64_t n = 1);
  void Merge(const Stats& o);
  json ToJson() const;
  static Stats FromJson(const json& j);
};

// The clock every process shares: steady_clock is CLOCK_MONOTONIC, the same
// for the parent and the forked workers.
extern std::chrono::steady_clock::time_point g_t0;
inline int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               g_t0)
      .count();
}

std::vector<Phase> MakePhases(const Options& o);
int PhaseAt(const std::vector<Phase>& phases, double t_s);

// Scheduled arrival times (microseconds) of the main stream, in order.
std::vector<int64_t> ArrivalTimes(const Options& o);

// The campaign counters and per-user results, read through the API.
struct CheckResult {
  std::string name;
  bool pass = false;
  std::string detail;
};

// Runs one worker process's share of the load: writes progress lines and the
// final result (one JSON line each) to `out_fd`.
int RunWorker(const Options& o, const std::vector<Phase>& phases, int worker, int out_fd);

}  // namespace tl::load
