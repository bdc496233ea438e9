// The Redis read model's key layout (redis_sink.h draws it), spelt once:
// the sink writes these keys, the reader reads them, a rebuild swaps them.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/core/names.h"

namespace tl::proj::redis_keys {

// <prefix>current: the namespace readers use ("v1", "r7", ...).
inline std::string Current(const std::string& prefix) { return prefix + "current"; }
// <prefix>rebuild: the namespace a full rebuild is filling (resumed from).
inline std::string RebuildMarker(const std::string& prefix) { return prefix + "rebuild"; }
// <prefix>rebuilds: the counter that names rebuild namespaces r1, r2, ...
inline std::string RebuildCounter(const std::string& prefix) { return prefix + "rebuilds"; }
// <prefix>events:<campaign>: the pub/sub channel of a campaign's batches.
inline std::string Events(const std::string& prefix, const std::string& campaign) {
  return absl::StrCat(prefix, "events:", campaign);
}

// The keys inside one namespace, `base` = <prefix><namespace>.
inline std::string Checkpoint(const std::string& base, int partition) {
  return absl::StrCat(base, ":ckpt:", partition);
}
inline std::string Campaigns(const std::string& base) { return base + ":campaigns"; }
inline std::string Rank(const std::string& base, const std::string& campaign) {
  return absl::StrCat(base, ":c:", campaign, ":rank");
}
inline std::string Status(const std::string& base, const std::string& campaign) {
  return absl::StrCat(base, ":c:", campaign, ":status");
}
inline std::string Summary(const std::string& base, const std::string& campaign) {
  return absl::StrCat(base, ":c:", campaign, ":summary");
}
// Every key that holds one campaign's data.
inline std::vector<std::string> CampaignKeys(const std::string& base, const std::string& campaign) {
  return {Rank(base, campaign), Status(base, campaign), Summary(base, campaign)};
}

// A value of the status hash: "<position>|<status>", "0|prequeued",
// "0|rejected:<REASON>".
inline std::string StatusValue(uint64_t position, const std::string& status) {
  return absl::StrCat(position, "|", status);
}
inline std::string RejectedValue(const std::string& reason) {
  return absl::StrCat("0|", kRejected, ":", reason);
}
inline constexpr char kRejectedPrefix[] = "rejected:";

}  // namespace tl::proj::redis_keys
