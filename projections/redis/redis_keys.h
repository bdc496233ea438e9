// The Redis read model's key layout (redis_sink.h draws it), spelt once:
// the sink writes these keys, the reader reads them, a rebuild swaps them.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
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
// Items (issue 15): one hash per campaign, fields "<item id>|<name>" (an
// item id never holds a '|'): label, stock, per_user_max, stock_left, taken,
// returned, restocked, confirmed, waitlisted, promoted (units); the ids in
// config order are the summary's "items" field (comma-separated).
inline std::string Items(const std::string& base, const std::string& campaign) {
  return absl::StrCat(base, ":c:", campaign, ":items");
}
inline std::string ItemField(const std::string& item, absl::string_view name) {
  return absl::StrCat(item, "|", name);
}
// user -> "<item id>|<quantity>": the item and units the user's entry asked
// for (at entry) or took (a choice, a promotion). Absent: no item (yet).
inline std::string EntryItems(const std::string& base, const std::string& campaign) {
  return absl::StrCat(base, ":c:", campaign, ":entry_item");
}
// Every key that holds one campaign's data.
inline std::vector<std::string> CampaignKeys(const std::string& base, const std::string& campaign) {
  return {Rank(base, campaign), Status(base, campaign), Summary(base, campaign),
          Items(base, campaign), EntryItems(base, campaign)};
}

// A value of the status hash: "<position>|<status>", "0|prequeued",
// "0|rejected:<REASON>"; a held win, a waitlisted or an expired entry
// (issue 14) "<position>|<status>|<hold_until_ms>|<waitlist_rank>" (0: not
// set). Entries without a hold or a rank read as they always did. An
// admitted or choice_expired entry (issue 15) adds its choice deadline:
// "<position>|<status>|0|0|<choose_until_ms>".
inline std::string StatusValue(uint64_t position, const std::string& status,
                               uint64_t hold_until_ms = 0, uint64_t waitlist_rank = 0,
                               uint64_t choose_until_ms = 0) {
  if (choose_until_ms != 0)
    return absl::StrCat(position, "|", status, "|", hold_until_ms, "|", waitlist_rank, "|",
                        choose_until_ms);
  if (hold_until_ms == 0 && waitlist_rank == 0) return absl::StrCat(position, "|", status);
  return absl::StrCat(position, "|", status, "|", hold_until_ms, "|", waitlist_rank);
}
struct StatusFields {
  uint64_t position = 0;
  std::string status;
  uint64_t hold_until_ms = 0, waitlist_rank = 0, choose_until_ms = 0;
};
// StatusValue's inverse; a value without a '|' is a bare status (position 0).
inline StatusFields ParseStatusValue(absl::string_view v) {
  StatusFields f;
  std::vector<absl::string_view> parts = absl::StrSplit(v, '|');
  if (parts.size() == 1) {
    f.status = std::string(v);
    return f;
  }
  (void)absl::SimpleAtoi(parts[0], &f.position);
  f.status = std::string(parts[1]);
  if (parts.size() >= 4) {
    (void)absl::SimpleAtoi(parts[2], &f.hold_until_ms);
    (void)absl::SimpleAtoi(parts[3], &f.waitlist_rank);
  }
  if (parts.size() >= 5) (void)absl::SimpleAtoi(parts[4], &f.choose_until_ms);
  return f;
}
inline std::string RejectedValue(const std::string& reason) {
  return absl::StrCat("0|", kRejected, ":", reason);
}
inline constexpr char kRejectedPrefix[] = "rejected:";

}  // namespace tl::proj::redis_keys
