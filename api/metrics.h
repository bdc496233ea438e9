// Metrics in the Prometheus text exposition format (version 0.0.4).
// prometheus-cpp is not packaged in Debian 12, so this is the small subset we
// need: counters and histograms with fixed label sets, one registry.
// Thread-safe; recording is a mutex-protected map lookup (cheap next to a
// durable append).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace tl::api {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  void Declare(const std::string& name, const std::string& type, const std::string& help);
  void Add(const std::string& name, const Labels& labels, double delta = 1);
  void Set(const std::string& name, const Labels& labels, double value);
  // Histogram with the default latency buckets (seconds).
  void Observe(const std::string& name, const Labels& labels, double value);
  std::string Render();

 private:
  struct Family {
    std::string type, help;
    std::map<std::string, double> values;                // rendered labels -> value
    std::map<std::string, std::vector<double>> buckets;  // histograms: counts, sum, count
  };
  static std::string Render(const Labels& labels, const std::string& extra = "");
  absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tl::api
