#include "api/metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace tl::api {
namespace {

// Latency buckets (seconds) for every histogram.
const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return *b;
}

// A programmer error in the use of the registry (an undeclared family, a
// counter going down, a bad name): print what and where, and stop.
[[noreturn]] void Fail(const std::string& name, const std::string& what) {
  std::fprintf(stderr, "ticketledger: metrics: %s: %s\n", name.c_str(), what.c_str());
  std::abort();
}

std::map<std::string, std::string> ToMap(const std::string& name, const Labels& labels) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : labels) {
    if (!out.emplace(k, v).second) Fail(name, "label " + k + " given twice");
  }
  return out;
}

}  // namespace

struct Metrics::Family {
  std::string type;
  prometheus::Family<prometheus::Counter>* counters = nullptr;
  prometheus::Family<prometheus::Gauge>* gauges = nullptr;
  prometheus::Family<prometheus::Histogram>* histograms = nullptr;
};

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}
Metrics::~Metrics() = default;

void Metrics::Declare(const std::string& name, const std::string& type, const std::string& help) {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->type != type) Fail(name, "declared as " + it->second->type + " and " + type);
    return;
  }
  auto f = std::make_unique<Family>();
  f->type = type;
  try {
    if (type == "counter") {
      f->counters = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
    } else if (type == "gauge") {
      f->gauges = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
    } else if (type == "histogram") {
      f->histograms = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
    } else {
      Fail(name, "unknown metric type " + type);
    }
  } catch (const std::exception& e) {  // prometheus-cpp refuses a bad name
    Fail(name, e.what());
  }
  families_.emplace(name, std::move(f));
}

Metrics::Family* Metrics::Find(const std::string& name, bool histogram) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) Fail(name, "recorded before Declare");
  Family* f = it->second.get();  // never removed, so it outlives the lock
  if ((f->histograms != nullptr) != histogram)
    Fail(name, "is a " + f->type + (histogram ? ", observed" : ", added to or set"));
  return f;
}

namespace {

// Name and labels, each length-prefixed, so two different series never
// share a key.
std::string Key(const std::string& name, const Labels& labels) {
  size_t size = sizeof(size_t) + name.size();
  for (const auto& [k, v] : labels) size += 2 * sizeof(size_t) + k.size() + v.size();
  std::string key;
  key.reserve(size);
  auto append = [&key](const std::string& part) {
    size_t n = part.size();
    key.append(reinterpret_cast<const char*>(&n), sizeof n).append(part);
  };
  append(name);
  for (const auto& [k, v] : labels) {
    append(k);
    append(v);
  }
  return key;
}

}  // namespace

Metrics::Series Metrics::Get(const std::string& name, const Labels& labels, bool histogram) {
  std::string key = Key(name, labels);
  auto it = series_.find(key);
  if (it != series_.end()) {
    if ((it->second.histogram != nullptr) != histogram)
      Fail(name, histogram ? "is not a histogram, observed" : "is a histogram, added to or set");
    return it->second;
  }
  Family* f = Find(name, histogram);
  auto series = ToMap(name, labels);
  Series s;
  try {
    if (f->counters) s.counter = &f->counters->Add(series);
    if (f->gauges) s.gauge = &f->gauges->Add(series);
    if (f->histograms) s.histogram = &f->histograms->Add(series, Buckets());
  } catch (const std::exception& e) {  // prometheus-cpp refuses a bad label name
    Fail(name, e.what());
  }
  series_.emplace(std::move(key), s);
  return s;
}

void Metrics::Add(const std::string& name, const Labels& labels, double delta) {
  absl::MutexLock lock(&series_mu_);
  Series s = Get(name, labels, false);
  if (s.gauge) {
    s.gauge->Increment(delta);
    return;
  }
  if (!(delta >= 0)) Fail(name, "a counter cannot go down");
  s.counter->Increment(delta);
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  absl::MutexLock lock(&series_mu_);
  Series s = Get(name, labels, false);
  if (s.gauge) {
    s.gauge->Set(value);
    return;
  }
  if (!(value >= 0)) Fail(name, "a counter cannot be negative");
  double now = s.counter->Value();
  if (value < now) {  // the source restarted: so does the series
    Family* f = Find(name, false);
    prometheus::Counter* fresh;
    try {
      f->counters->Remove(s.counter);
      fresh = &f->counters->Add(ToMap(name, labels));
    } catch (const std::exception& e) {
      Fail(name, e.what());
    }
    for (auto& [key, cached] : series_) {  // the same labels in another order too
      if (cached.counter == s.counter) cached.counter = fresh;
    }
    s.counter = fresh;
    now = 0;
  }
  // Exact for integers below 2^53: value - now and now + (value - now) are.
  s.counter->Increment(value - now);
}

void Metrics::Observe(const std::string& name, const Labels& labels, double value) {
  prometheus::Histogram* h;
  {
    absl::MutexLock lock(&series_mu_);
    h = Get(name, labels, true).histogram;
  }
  h->Observe(value);  // histograms are never removed
}

std::string Metrics::Render() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  // The registry groups by type and keeps each family's series in a hash
  // table; sort both so the page reads the same way every time.
  std::sort(families.begin(), families.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& f : families) {
    std::sort(f.metric.begin(), f.metric.end(),
              [](const auto& a, const auto& b) { return a.label < b.label; });
  }
  return prometheus::TextSerializer().Serialize(families);
}

void DeclareLimitHits(Metrics* metrics) {
  metrics->Declare("ticketledger_http_limit_hits_total", "counter",
                   "Requests or connections refused or cut because a client passed a limit, by "
                   "limit");
}

void DeclareEngineEvents(Metrics* metrics) {
  metrics->Declare("ticketledger_engine_events_total", "counter",
                   "Ledger events folded, per partition (rate() gives the fold rate)");
}

}  // namespace tl::api
