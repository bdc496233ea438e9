// The drop's invariants, checked from the outside after the load: the
// campaign's counters and paginated results through the API, each user's
// live outcome against its result, and (--postgres-url) the read model's SQL.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/ticketload.h"
#include "benchmarks/ticketload_http.h"

namespace tl::load {

struct AckedUser {
  std::string user;
  bool watched = false;
  Outcome live = Outcome::kNone;  // final status seen on the live channel
};

// Waits (up to --settle-s) for every position to be decided, then checks.
// `api` receives the campaign's counters and the results' tallies.
std::vector<CheckResult> CheckDrop(const Options& o, const Target& t,
                                   const std::vector<AckedUser>& acked, json* api);

// The two-sided (1 - alpha) acceptance region [lo, hi] of Binomial(n, p).
std::pair<uint64_t, uint64_t> BinomialRegion(uint64_t n, double p, double alpha);

}  // namespace tl::load
