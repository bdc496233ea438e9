// A fixed log-bucket latency histogram (HDR-like): values 0..127 are exact,
// above that every power of two is split into 64 linear buckets, so a bucket
// is at most 1/64 (1.6%) of its value wide. Values are microseconds (or plain
// counts). Histograms merge by adding buckets, so percentiles of a merged run
// are exact to the bucket, never an average of percentiles.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "nlohmann/json.hpp"

namespace tl::load {

class Histogram {
 public:
  void Record(int64_t v) {
    uint64_t u = v < 0 ? 0 : static_cast<uint64_t>(v);
    if (counts_.empty()) counts_.assign(kBuckets, 0);
    ++counts_[Index(u)];
    ++count_;
    sum_ += static_cast<double>(u);
    min_ = std::min(min_, u);
    max_ = std::max(max_, u);
  }

  void Merge(const Histogram& o) {
    if (o.count_ == 0) return;
    if (counts_.empty()) counts_.assign(kBuckets, 0);
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }

  // The smallest bucket bound at or above the q-quantile (q in [0, 1]).
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(UpperBound(i), min_, max_);
    }
    return max_;
  }

  // Sparse: [[bucket, count], ...] plus the exact count, sum, min and max.
  nlohmann::json ToJson() const {
    nlohmann::json b = nlohmann::json::array();
    for (size_t i = 0; i < counts_.size(); ++i)
      if (counts_[i]) b.push_back({i, counts_[i]});
    return {{"n", count_}, {"sum", sum_}, {"min", min()}, {"max", max()}, {"b", b}};
  }

  static Histogram FromJson(const nlohmann::json& j) {
    Histogram h;
    h.count_ = j.at("n").get<uint64_t>();
    if (h.count_ == 0) return h;
    h.sum_ = j.at("sum").get<double>();
    h.min_ = j.at("min").get<uint64_t>();
    h.max_ = j.at("max").get<uint64_t>();
    h.counts_.assign(kBuckets, 0);
    for (const auto& p : j.at("b")) h.counts_.at(p[0].get<size_t>()) = p[1].get<uint64_t>();
    return h;
  }

 private:
  static constexpr size_t kSub = 64;
  static constexpr size_t kBuckets = kSub * 2 + kSub * 57;  // up to 2^64

  static size_t Index(uint64_t v) {
    if (v < 2 * kSub) return v;
    const int e = std::bit_width(v) - 7;  // v >> e is in [64, 128)
    return kSub * e + (v >> e);
  }
  static uint64_t UpperBound(size_t idx) {
    if (idx < 2 * kSub) return idx;
    const size_t e = idx / kSub - 1;
    const uint64_t sub = idx - kSub * e;
    return ((sub + 1) << e) - 1;
  }

  std::vector<uint64_t> counts_;  // empty until the first value
  uint64_t count_ = 0;
  double sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace tl::load
