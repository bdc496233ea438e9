// The Redis read model's key layout and value formats (see redis_sink.h for
// what each key holds), spelled once for the writer (redis_sink.cc) and the
// reader (read_model.cc). Campaign ids cannot contain ':' (engine/core
// limits), so no campaign's keys can alias another's.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "projections/projector.h"

namespace tl::proj::redis_keys {

// <prefix>current: the namespace readers use now.
inline std::string Current(absl::string_view prefix) { return absl::StrCat(prefix, "current"); }
// <prefix><ns>: what every key of one namespace starts with.
inline std::string Base(absl::string_view prefix, absl::string_view ns) {
  return absl::StrCat(prefix, ns);
}
// <base>:c:<campaign>:<what>, what = rank, status or summary.
inline std::string Campaign(absl::string_view base, absl::string_view campaign,
                            absl::string_view what) {
  return absl::StrCat(base, ":c:", campaign, ":", what);
}
inline std::string Campaigns(absl::string_view base) { return absl::StrCat(base, ":campaigns"); }
inline std::string CheckpointKey(absl::string_view base, int partition) {
  return absl::StrCat(base, ":ckpt:", partition);
}
// The pub/sub channel of a campaign; outside any namespace (a rebuild's swap
// does not move it).
inline std::string Events(absl::string_view prefix, absl::string_view campaign) {
  return absl::StrCat(prefix, "events:", campaign);
}

// A checkpoint's value: "<next ledger offset>:<next sequence>".
inline std::string CheckpointValue(const ::tl::proj::Checkpoint& c) {
  return absl::StrCat(c.next_offset, ":", c.next_sequence);
}
inline absl::StatusOr<::tl::proj::Checkpoint> ParseCheckpointValue(absl::string_view v) {
  ::tl::proj::Checkpoint c;
  std::vector<absl::string_view> parts = absl::StrSplit(v, ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &c.next_offset) ||
      !absl::SimpleAtoi(parts[1], &c.next_sequence))
    return absl::DataLossError(absl::StrCat("redis: unreadable checkpoint '", v, "'"));
  return c;
}

// A status hash value: "<position>|<status>" (position 0 for prequeued and
// rejected:<REASON>).
inline std::string StatusValue(uint64_t position, absl::string_view status) {
  return absl::StrCat(position, "|", status);
}
// "<position>|<status>" -> (position, status); a value without '|' is all
// status, at position 0.
inline std::pair<uint64_t, std::string> SplitStatus(absl::string_view v) {
  size_t bar = v.find('|');
  uint64_t pos = 0;
  if (bar == absl::string_view::npos) return {0, std::string(v)};
  (void)absl::SimpleAtoi(v.substr(0, bar), &pos);
  return {pos, std::string(v.substr(bar + 1))};
}

}  // namespace tl::proj::redis_keys
