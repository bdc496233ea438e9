// The wire vocabulary: every name the engine's values are spelt with on the
// wire (HTTP api, read models, logs, tools), spelt once here, so a result
// reads the same from every store and a rename is one edit.
#pragma once

#include <string>
#include <string_view>

#include "engine/core/state.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

// --- Entry statuses (GET entry "status", the Redis status hash, the
// PostgreSQL entries.outcome column). An outcome is a status too.
inline constexpr char kQueued[] = "queued";
inline constexpr char kPrequeued[] = "prequeued";
inline constexpr char kWon[] = "won";
inline constexpr char kLost[] = "lost";
inline constexpr char kSoldOut[] = "sold_out";
inline constexpr char kCancelled[] = "cancelled";
inline constexpr char kRejected[] = "rejected";
inline constexpr char kConfirmed[] = "confirmed";
inline constexpr char kExpired[] = "expired";
inline constexpr char kWaitlisted[] = "waitlisted";
// A request the engine has not decided yet (GET request).
inline constexpr char kPending[] = "pending";
// A request the engine took but has not answered yet (202).
inline constexpr char kAccepted[] = "accepted";

inline const char* OutcomeName(::ticketledger::v1::Outcome o) {
  switch (o) {
    case ::ticketledger::v1::OUTCOME_WON:
      return kWon;
    case ::ticketledger::v1::OUTCOME_LOST:
      return kLost;
    case ::ticketledger::v1::OUTCOME_SOLD_OUT:
      return kSoldOut;
    case ::ticketledger::v1::OUTCOME_WAITLISTED:
      return kWaitlisted;
    default:
      return "unknown";
  }
}

inline const char* EntryStatusName(EntryStatus s) {
  switch (s) {
    case EntryStatus::kQueued:
      return kQueued;
    case EntryStatus::kWon:
      return kWon;
    case EntryStatus::kLost:
      return kLost;
    case EntryStatus::kSoldOut:
      return kSoldOut;
    case EntryStatus::kCancelled:
      return kCancelled;
    case EntryStatus::kConfirmed:
      return kConfirmed;
    case EntryStatus::kExpired:
      return kExpired;
    case EntryStatus::kWaitlisted:
      return kWaitlisted;
  }
  return "unknown";
}

// A status a drawn entry has (won, lost, sold_out, cancelled, confirmed,
// expired, waitlisted), by name; false for any other name.
inline bool ParseDecidedStatus(std::string_view name, EntryStatus* out) {
  for (EntryStatus s :
       {EntryStatus::kWon, EntryStatus::kLost, EntryStatus::kSoldOut, EntryStatus::kCancelled,
        EntryStatus::kConfirmed, EntryStatus::kExpired, EntryStatus::kWaitlisted}) {
    if (name == EntryStatusName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

// --- Draw modes (campaign JSON "draw").
inline constexpr char kInstant[] = "instant";
inline constexpr char kAtClose[] = "at_close";
inline const char* DrawName(::ticketledger::v1::Draw d) {
  return d == ::ticketledger::v1::DRAW_AT_CLOSE ? kAtClose : kInstant;
}
inline bool ParseDraw(std::string_view name, ::ticketledger::v1::Draw* out) {
  if (name == kInstant) {
    *out = ::ticketledger::v1::DRAW_INSTANT;
  } else if (name == kAtClose) {
    *out = ::ticketledger::v1::DRAW_AT_CLOSE;
  } else {
    return false;
  }
  return true;
}

// The admission pass's id (its jti), which a confirmation names: one per
// position (a position wins at most once).
inline std::string PassId(std::string_view campaign, uint64_t position) {
  return std::string(campaign) + ":" + std::to_string(position);
}

// --- Campaign states.
inline constexpr char kOpen[] = "open";
inline constexpr char kClosed[] = "closed";
inline const char* CampaignStatusName(bool closed) { return closed ? kClosed : kOpen; }

// --- Queueing modes.
inline constexpr char kFifo[] = "fifo";
inline constexpr char kRandom[] = "random";
inline const char* QueueingName(::ticketledger::v1::Queueing q) {
  return q == ::ticketledger::v1::QUEUEING_RANDOM ? kRandom : kFifo;
}
// Returns false for a name that is not a queueing mode.
inline bool ParseQueueing(std::string_view name, ::ticketledger::v1::Queueing* out) {
  if (name == kFifo) {
    *out = ::ticketledger::v1::QUEUEING_FIFO;
  } else if (name == kRandom) {
    *out = ::ticketledger::v1::QUEUEING_RANDOM;
  } else {
    return false;
  }
  return true;
}

// --- Stock change reasons (PostgreSQL stock_changes.reason).
inline const char* StockReasonName(::ticketledger::v1::StockReason r) {
  switch (r) {
    case ::ticketledger::v1::STOCK_RESTOCK:
      return "restock";
    case ::ticketledger::v1::STOCK_HOLD_EXPIRED:
      return "hold_expired";
    default:
      return "cancellation";
  }
}

// --- Reject reasons: the enum's own name (REJECT_DUPLICATE, in the api's
// error "reason" and the Redis status hash) and the short error code the
// HTTP api answers with (duplicate).
inline std::string RejectReasonName(::ticketledger::v1::RejectReason r) {
  return ::ticketledger::v1::RejectReason_Name(r);
}
inline ::ticketledger::v1::RejectReason ParseRejectReason(const std::string& name) {
  ::ticketledger::v1::RejectReason r = ::ticketledger::v1::REJECT_REASON_UNSPECIFIED;
  (void)::ticketledger::v1::RejectReason_Parse(name, &r);
  return r;
}
inline const char* RejectCode(::ticketledger::v1::RejectReason r) {
  switch (r) {
    case ::ticketledger::v1::REJECT_DUPLICATE:
      return "duplicate";
    case ::ticketledger::v1::REJECT_CAMPAIGN_CLOSED:
      return "campaign_closed";
    case ::ticketledger::v1::REJECT_UNKNOWN_CAMPAIGN:
      return "unknown_campaign";
    case ::ticketledger::v1::REJECT_CAMPAIGN_FULL:
      return "campaign_full";
    case ::ticketledger::v1::REJECT_NOT_YET_OPEN:
      return "not_yet_open";
    case ::ticketledger::v1::REJECT_INVALID_ARGUMENT:
      return "invalid_argument";
    case ::ticketledger::v1::REJECT_CAMPAIGN_EXISTS:
      return "campaign_exists";
    case ::ticketledger::v1::REJECT_NOT_CANCELLABLE:
      return "not_cancellable";
    case ::ticketledger::v1::REJECT_NOT_DRAINED:
      return "not_drained";
    case ::ticketledger::v1::REJECT_ALREADY_REVEALED:
      return "already_revealed";
    case ::ticketledger::v1::REJECT_NOT_ENTERED:
      return "not_entered";
    case ::ticketledger::v1::REJECT_IDEMPOTENCY_MISMATCH:
      return "idempotency_key_reused";
    case ::ticketledger::v1::REJECT_HOLD_EXPIRED:
      return "hold_expired";
    case ::ticketledger::v1::REJECT_ALREADY_CONFIRMED:
      return "already_confirmed";
    case ::ticketledger::v1::REJECT_PASS_MISMATCH:
      return "pass_mismatch";
    case ::ticketledger::v1::REJECT_NOT_CONFIRMABLE:
      return "not_confirmable";
    default:
      return kRejected;
  }
}

// --- The two logs, and their Kafka topics (ticketledger.<log>).
inline constexpr char kCommandsLog[] = "commands";
inline constexpr char kLedgerLog[] = "ledger";
inline constexpr char kKafkaTopicPrefix[] = "ticketledger.";
inline std::string KafkaTopic(std::string_view log) {
  return std::string(kKafkaTopicPrefix) + std::string(log);
}

}  // namespace tl
