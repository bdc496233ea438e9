// The arrival schedule, the phases, and Stats (merge and the JSON that
// carries a worker's results to the parent).
#include <algorithm>
#include <cmath>

#include "benchmarks/ticketload.h"
#include "engine/core/names.h"

namespace tl::load {

std::chrono::steady_clock::time_point g_t0 = std::chrono::steady_clock::now();

// The bench's outcomes by their wire names (engine/core/names.h).
const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kWon:
      return kWon;
    case Outcome::kLost:
      return kLost;
    case Outcome::kSoldOut:
      return kSoldOut;
    case Outcome::kCancelled:
      return kCancelled;
    case Outcome::kRejected:
      return kRejected;
    case Outcome::kNone:
      break;
  }
  return "";
}

Outcome OutcomeFromName(std::string_view s) {
  for (Outcome o : {Outcome::kWon, Outcome::kLost, Outcome::kSoldOut, Outcome::kCancelled,
                    Outcome::kRejected}) {
    if (s == OutcomeName(o)) return o;
  }
  return Outcome::kNone;
}

std::string UserName(const std::string& prefix, Kind kind, uint64_t index) {
  static const char* const kTags[] = {"-", "-b", "-p"};
  return prefix + kTags[static_cast<int>(kind)] + std::to_string(index);
}

std::vector<Phase> MakePhases(const Options& o) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<Phase> phases;
  if (o.requests > 0) return {Phase{"closed", 0, kInf}};
  if (!o.stages.empty()) {
    double t = 0, from = o.start_rate;
    for (size_t i = 0; i < o.stages.size(); ++i) {
      const Stage& s = o.stages[i];
      char name[64];
      std::snprintf(name, sizeof name, "stage%zu %g->%g/s", i + 1, from, s.rate);
      phases.push_back(Phase{name, t, t + s.seconds});
      t += s.seconds;
      from = s.rate;
    }
    phases.push_back(Phase{"drain", t, kInf});
    return phases;
  }
  const double ramp_end = std::max(o.ramp_s, 1e-3);
  phases.push_back(Phase{"ramp", 0, ramp_end});
  if (o.steady_s > 0) phases.push_back(Phase{"steady", ramp_end, ramp_end + o.steady_s});
  phases.push_back(Phase{"drain", ramp_end + std::max(o.steady_s, 0.0), kInf});
  return phases;
}

int PhaseAt(const std::vector<Phase>& phases, double t_s) {
  for (size_t i = 0; i < phases.size(); ++i)
    if (t_s < phases[i].end_s) return static_cast<int>(i);
  return static_cast<int>(phases.size()) - 1;
}

std::vector<int64_t> ArrivalTimes(const Options& o) {
  std::vector<int64_t> t;
  if (o.requests > 0) return std::vector<int64_t>(o.requests, 0);
  if (!o.stages.empty()) {
    // Within a stage the rate goes linearly from a to b over d seconds, so
    // the arrivals by x seconds into it are a*x + (b-a)/(2d)*x^2; arrival k
    // comes when that reaches k.
    double base_t = 0, base_n = 0, a = o.start_rate;
    uint64_t next = 0;
    for (const Stage& s : o.stages) {
      const double b = s.rate, d = s.seconds, total = (a + b) / 2 * d;
      const double c2 = (b - a) / (2 * d);
      for (; static_cast<double>(next) < base_n + total; ++next) {
        const double need = static_cast<double>(next) - base_n;
        double x;
        if (std::abs(c2) < 1e-12) {
          x = need / a;
        } else {
          x = (-a + std::sqrt(std::max(0.0, a * a + 4 * c2 * need))) / (2 * c2);
        }
        t.push_back(static_cast<int64_t>((base_t + std::clamp(x, 0.0, d)) * 1e6));
      }
      base_t += d;
      base_n += total;
      a = b;
    }
    return t;
  }
  t.reserve(o.users);
  for (uint64_t i = 0; i < o.users; ++i)
    t.push_back(static_cast<int64_t>(o.ramp_s * 1e6 * static_cast<double>(i) /
                                     static_cast<double>(o.users)));
  return t;
}

void Stats::Bin(std::vector<uint64_t>& bins, int64_t t_us, uint64_t n) {
  const auto bin = static_cast<size_t>(std::max<int64_t>(0, t_us) / 100'000);
  if (bins.size() <= bin) bins.resize(bin + 1, 0);
  bins[bin] += n;
}

namespace {
void AddBins(std::vector<uint64_t>& to, const std::vector<uint64_t>& from) {
  if (to.size() < from.size()) to.resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) to[i] += from[i];
}
}  // namespace

void PhaseStats::Merge(const PhaseStats& o) {
  ack.Merge(o.ack);
  connect.Merge(o.connect);
  first_update.Merge(o.first_update);
  bg_ack.Merge(o.bg_ack);
  arrivals += o.arrivals;
  acked += o.acked;
  bg_arrivals += o.bg_arrivals;
  bg_acked += o.bg_acked;
  for (const auto& [k, v] : o.errors) errors[k] += v;
}

void Stats::Merge(const Stats& o) {
  if (phases.size() < o.phases.size()) phases.resize(o.phases.size());
  for (size_t i = 0; i < o.phases.size(); ++i) phases[i].Merge(o.phases[i]);
  AddBins(ack_bins, o.ack_bins);
  AddBins(bg_ack_bins, o.bg_ack_bins);
  AddBins(watching_bins, o.watching_bins);
  updates.Merge(o.updates);
  max_gap.Merge(o.max_gap);
  messages += o.messages;
  comments += o.comments;
  first_send = std::min(first_send, o.first_send);
  last_ack = std::max(last_ack, o.last_ack);
  client_lag_max = std::max(client_lag_max, o.client_lag_max);
  for (const auto& [s, t] : o.serving_first) {
    auto [it, inserted] = serving_first.emplace(s, t);
    if (!inserted) it->second = std::min(it->second, t);
  }
  records.insert(records.end(), o.records.begin(), o.records.end());
}

json Stats::ToJson() const {
  json ph = json::array();
  for (const PhaseStats& p : phases) {
    ph.push_back({{"ack", p.ack.ToJson()},
                  {"connect", p.connect.ToJson()},
                  {"first_update", p.first_update.ToJson()},
                  {"bg_ack", p.bg_ack.ToJson()},
                  {"n", {p.arrivals, p.acked, p.bg_arrivals, p.bg_acked}},
                  {"errors", p.errors}});
  }
  json serving = json::array();
  for (const auto& [s, t] : serving_first) serving.push_back({s, t});
  json recs = json::array();
  for (const VuRecord& r : records) {
    recs.push_back({r.index, static_cast<int>(r.kind), r.phase, r.status, r.done, r.watched,
                    static_cast<int>(r.outcome), r.position, r.t_arrival, r.t_ack, r.t_first_update,
                    r.t_reach, r.updates, r.max_gap, r.reconnects});
  }
  return {{"phases", ph},
          {"ack_bins", ack_bins},
          {"bg_ack_bins", bg_ack_bins},
          {"watching_bins", watching_bins},
          {"updates", updates.ToJson()},
          {"max_gap", max_gap.ToJson()},
          {"messages", messages},
          {"comments", comments},
          {"first_send", first_send},
          {"last_ack", last_ack},
          {"client_lag_max", client_lag_max},
          {"serving_first", serving},
          {"records", recs}};
}

Stats Stats::FromJson(const json& j) {
  Stats s;
  for (const json& p : j.at("phases")) {
    PhaseStats ps;
    ps.ack = Histogram::FromJson(p.at("ack"));
    ps.connect = Histogram::FromJson(p.at("connect"));
    ps.first_update = Histogram::FromJson(p.at("first_update"));
    ps.bg_ack = Histogram::FromJson(p.at("bg_ack"));
    const json& n = p.at("n");
    ps.arrivals = n[0];
    ps.acked = n[1];
    ps.bg_arrivals = n[2];
    ps.bg_acked = n[3];
    ps.errors = p.at("errors").get<std::map<std::string, uint64_t>>();
    s.phases.push_back(std::move(ps));
  }
  s.ack_bins = j.at("ack_bins").get<std::vector<uint64_t>>();
  s.bg_ack_bins = j.at("bg_ack_bins").get<std::vector<uint64_t>>();
  s.watching_bins = j.at("watching_bins").get<std::vector<uint64_t>>();
  s.updates = Histogram::FromJson(j.at("updates"));
  s.max_gap = Histogram::FromJson(j.at("max_gap"));
  s.messages = j.at("messages");
  s.comments = j.at("comments");
  s.first_send = j.at("first_send");
  s.last_ack = j.at("last_ack");
  s.client_lag_max = j.at("client_lag_max");
  for (const json& p : j.at("serving_first"))
    s.serving_first.emplace(p[0].get<uint64_t>(), p[1].get<int64_t>());
  for (const json& a : j.at("records")) {
    VuRecord r;
    r.index = a[0];
    r.kind = static_cast<Kind>(a[1].get<int>());
    r.phase = a[2];
    r.status = a[3];
    r.done = a[4];
    r.watched = a[5];
    r.outcome = static_cast<Outcome>(a[6].get<int>());
    r.position = a[7];
    r.t_arrival = a[8];
    r.t_ack = a[9];
    r.t_first_update = a[10];
    r.t_reach = a[11];
    r.updates = a[12];
    r.max_gap = a[13];
    r.reconnects = a[14];
    s.records.push_back(r);
  }
  return s;
}

}  // namespace tl::load
