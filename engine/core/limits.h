// Limits on everything a client controls. Each has a documented default and
// each is enforced by the engine (which rejects with REJECT_INVALID_ARGUMENT
// naming the limit) and, later, by the api before a command is even logged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace tl {

struct Limits {
  // Campaign ids: 1..64 bytes of [A-Za-z0-9._-].
  size_t campaign_id_bytes_max = 64;
  // User ids: 1..128 bytes of UTF-8 without control characters (at most 255:
  // the state store keeps the length in one byte).
  size_t user_id_bytes_max = 128;
  // Request ids (idempotency keys): 0..64 bytes of printable ASCII.
  size_t request_id_bytes_max = 64;
  // Campaign titles: 0..200 bytes of UTF-8 without control characters.
  size_t title_bytes_max = 200;
  // Entries (positions + pre-queued) per campaign: the default cap and the
  // ceiling a CreateCampaign may ask for.
  uint64_t entries_per_campaign_max = 10'000'000;
  // Users waiting in a RANDOM campaign's pre-queue. The opening answers them
  // all in one atomic ledger append, so this bounds that append.
  uint64_t prequeue_max = 1'000'000;
  // Stock at creation and after any restock.
  uint64_t stock_max = 1'000'000'000;
  // Seconds a win holds its unit for payment (CreateCampaign.hold_s): a week.
  uint32_t hold_s_max = 604'800;
  // An at-close campaign's entropy source (words) and the value it published.
  size_t entropy_source_bytes_max = 200;
  size_t entropy_value_bytes_max = 256;
  // Admission rate in positions per second.
  uint32_t admission_rate_per_s_max = 1'000'000;
  // Commands the engine decides per step (one ledger append, one state write).
  size_t command_batch_max = 4096;
  // Records one group commit gathers from concurrent appenders (a single
  // append may be larger: the engine's answer to one step is never split).
  size_t append_batch_max = 65536;
  // Bytes of one log record (key + value).
  size_t record_bytes_max = 1 << 20;
};

absl::Status ValidateCampaignId(std::string_view id, const Limits& limits);
absl::Status ValidateUserId(std::string_view id, const Limits& limits);
absl::Status ValidateRequestId(std::string_view id, const Limits& limits);
absl::Status ValidateTitle(std::string_view title, const Limits& limits);
// Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) with no C0/C1
// control characters and no DEL.
bool IsCleanUtf8(std::string_view s);

}  // namespace tl
