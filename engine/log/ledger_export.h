// The ledger export: one campaign's ledger events as NDJSON, one event per
// line in the protobuf JSON mapping (schemas/EXPORT.md is the format note).
// The HTTP route (GET /v1/campaigns/{id}/ledger) and `ticketctl export` both
// write it with ExportLedger, so the same ledger gives the same bytes.
//
// Offsets count this campaign's events: offset N skips the campaign's first
// N events (in ledger order) and the page starts with its (N+1)-th. Pages
// concatenated in offset order are the whole export, byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/core/schema.h"
#include "engine/log/event_log.h"
#include "engine/log/ledger_reader.h"

namespace tl {

// One event as its export line, without the newline: the protobuf JSON
// mapping with proto field names, fields at their default (0, "", false)
// left out as proto3 JSON does, enums by name, 64-bit integers as strings,
// bytes as base64. Byte for byte MessageToJsonString with those options.
std::string ExportLine(const pb::Event& event);
// The same line from protobuf's MessageToJsonString with the same options
// (slower): what ExportLine must equal, for the tests.
std::string ExportLineReference(const pb::Event& event);

// Where a page starts: the campaign's events to skip, and optionally where a
// reader that had handed out exactly that many of them stood in the ledger
// (so a resumed export does not read the partition from its start again).
struct ExportCursor {
  uint64_t offset = 0;    // this campaign's events already exported
  LedgerPosition ledger;  // a ledger position at or before that event; {} = the start
};

struct ExportPage {
  uint64_t lines = 0;        // lines written by this call
  uint64_t next_offset = 0;  // cursor.offset + lines
  // The ledger position just after the last event written (or, at the end,
  // after the last record read): a valid ExportCursor::ledger for next_offset.
  LedgerPosition resume;
  bool complete = false;  // the ledger's end (as of the call) was reached
  bool created = false;   // a CampaignCreated was met (only when the scan began at the start)
  bool revealed = false;  // a SeedRevealed was met in what was read
};

struct ExportOptions {
  uint64_t limit = UINT64_MAX;  // at most this many lines
  size_t batch_records = 4096;  // ledger records per read
  // Progress over the partition's records: (records read, records at the call's start).
  std::function<void(uint64_t, uint64_t)> progress;
};

// Writes `campaign`'s events from `cursor` on, each ExportLine + "\n", to
// `sink`. The partition is read with LedgerReader (distinct events, in
// sequence order; a damaged ledger is an error, never a silent skip), up to
// its end as of the call. A sink error stops the export and is returned.
absl::Status ExportLedger(EventLog* ledger, int partition, absl::string_view campaign,
                          const ExportCursor& cursor, const ExportOptions& options,
                          const std::function<absl::Status(absl::string_view)>& sink,
                          ExportPage* page);

}  // namespace tl
