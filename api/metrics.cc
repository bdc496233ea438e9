#include "api/metrics.h"

#include "absl/strings/str_cat.h"

namespace tl::api {
namespace {

constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                               0.05,   0.1,   0.25,   0.5,   1,    2.5};
constexpr size_t kNBuckets = sizeof kBuckets / sizeof kBuckets[0];

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Metrics::Render(const Labels& labels, const std::string& extra) {
  std::string out;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", k, "=\"", Escape(v), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : "{" + out + "}";
}

void Metrics::Declare(const std::string& name, const std::string& type, const std::string& help) {
  absl::MutexLock lock(&mu_);
  families_[name].type = type;
  families_[name].help = help;
}

void Metrics::Add(const std::string& name, const Labels& labels, double delta) {
  std::string key = Render(labels);
  absl::MutexLock lock(&mu_);
  families_[name].values[key] += delta;
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  std::string key = Render(labels);
  absl::MutexLock lock(&mu_);
  families_[name].values[key] = value;
}

void Metrics::Observe(const std::string& name, const Labels& labels, double value) {
  std::string key;
  for (const auto& [k, v] : labels)
    absl::StrAppend(&key, key.empty() ? "" : ",", k, "=\"", Escape(v), "\"");
  absl::MutexLock lock(&mu_);
  auto& b = families_[name].buckets[key];
  if (b.empty()) b.assign(kNBuckets + 2, 0);
  for (size_t i = 0; i < kNBuckets; ++i) {
    if (value <= kBuckets[i]) b[i] += 1;
  }
  b[kNBuckets] += value;
  b[kNBuckets + 1] += 1;
}

std::string Metrics::Render() {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n");
    for (const auto& [labels, v] : f.values) absl::StrAppend(&out, name, labels, " ", v, "\n");
    for (const auto& [labels, b] : f.buckets) {
      std::string sep = labels.empty() ? "" : ",";
      for (size_t i = 0; i < kNBuckets; ++i)
        absl::StrAppend(&out, name, "_bucket{", labels, sep, "le=\"", kBuckets[i], "\"} ", b[i],
                        "\n");
      absl::StrAppend(&out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", b[kNBuckets + 1], "\n");
      std::string l = labels.empty() ? "" : "{" + labels + "}";
      absl::StrAppend(&out, name, "_sum", l, " ", b[kNBuckets], "\n", name, "_count", l, " ",
                      b[kNBuckets + 1], "\n");
    }
  }
  return out;
}

}  // namespace tl::api
