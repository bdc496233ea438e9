// Metrics in the Prometheus text exposition format (version 0.0.4), on
// prometheus-cpp's core registry and text serializer (Debian
// `prometheus-cpp-dev`). We serve /metrics through our own router, so its
// civetweb exposer is not used.
//
// Counters print as exact integers up to 2^53 (prometheus-cpp keeps a double
// and prints it with 16+ significant digits: 3000000, not 3e+06); the unit
// tests pin that. Series render sorted by family name, then by labels.
//
// A family is declared once with its type ("counter", "gauge" or
// "histogram") before any series is recorded; recording into an undeclared
// family, or the wrong kind of call for its type, is a programmer error and
// aborts with the name. A counter is either Added to, or Set from a monotonic
// source (the engine's event count); a Set below the current value is a
// counter reset (the series starts again from that value).
// Thread-safe. Recording a series seen before is one lock and a hash lookup
// of its name and labels, then prometheus-cpp's atomic (histograms: its
// lock); about as cheap as the hand-made registry it replaced.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace tl::api {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Idempotent for the same type (the first help text stays).
  void Declare(const std::string& name, const std::string& type, const std::string& help);
  // Counters (delta >= 0) and gauges.
  void Add(const std::string& name, const Labels& labels, double delta = 1);
  // Gauges; counters mirroring a monotonic source (see above).
  void Set(const std::string& name, const Labels& labels, double value);
  // Histogram with the default latency buckets (seconds).
  void Observe(const std::string& name, const Labels& labels, double value);
  std::string Render();

 private:
  struct Family;
  struct Series {  // exactly one is set, as the family's type says
    prometheus::Counter* counter = nullptr;
    prometheus::Gauge* gauge = nullptr;
    prometheus::Histogram* histogram = nullptr;
  };
  // The declared family `name`, a histogram or not as `histogram` says;
  // aborts otherwise.
  Family* Find(const std::string& name, bool histogram) ABSL_LOCKS_EXCLUDED(mu_);
  // The series `labels` of family `name`, created on first use.
  Series Get(const std::string& name, const Labels& labels, bool histogram)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(series_mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  absl::Mutex mu_;  // after series_mu_
  std::map<std::string, std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  // Held across a series' lookup and its update, so a counter's Set can
  // replace the series (a reset) without an Add incrementing the old one.
  absl::Mutex series_mu_;
  absl::flat_hash_map<std::string, Series> series_ ABSL_GUARDED_BY(series_mu_);
};

// ticketledger_http_limit_hits_total{limit}: the transport (connections,
// headers, bodies) and the api (append queue, live streams) both record it,
// so each declares it through this one spelling.
void DeclareLimitHits(Metrics* metrics);

// ticketledger_engine_events_total{partition}: the api's fold (roles all and
// api) and the engine role both report it.
void DeclareEngineEvents(Metrics* metrics);

}  // namespace tl::api
