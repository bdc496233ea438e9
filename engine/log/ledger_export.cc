#include "engine/log/ledger_export.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace tl {

std::string ExportLine(const pb::Event& event) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;     // user_id, not userId: the names of events.proto
  opts.always_print_primitive_fields = true;  // "stock_left":"0" is written, not left out
  opts.always_print_enums_as_ints = false;    // "outcome":"OUTCOME_WON"
  opts.add_whitespace = false;                // one line
  std::string text;
  // Printing a valid message cannot fail (the schema is compiled in).
  (void)google::protobuf::util::MessageToJsonString(event, &text, opts);
  return text;
}

absl::Status ExportLedger(EventLog* ledger, int partition, absl::string_view campaign,
                          const ExportCursor& cursor, const ExportOptions& options,
                          const std::function<absl::Status(absl::string_view)>& sink,
                          ExportPage* page) {
  *page = ExportPage{};
  page->next_offset = cursor.offset;
  page->resume = cursor.ledger;
  const bool from_start = cursor.ledger.offset == 0 && cursor.ledger.next_sequence == 1;
  // From the start the first `offset` events are skipped; from a ledger
  // position, exactly `offset` of them lie before it already.
  uint64_t skip = from_start ? cursor.offset : 0;
  absl::StatusOr<uint64_t> end = ledger->EndOffset(partition);
  if (!end.ok()) return end.status();
  if (options.limit == 0) return absl::OkStatus();
  LedgerReader reader(ledger, partition, cursor.ledger, options.batch_records);
  LedgerBatch batch;
  std::string line;
  while (reader.position().offset < *end) {
    if (absl::Status st = reader.Next(&batch, *end); !st.ok()) return st;
    if (batch.read == 0) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      const pb::Event& e = batch.events[i];
      if (e.campaign_id() != campaign) continue;
      if (e.has_campaign_created()) page->created = true;
      if (e.has_seed_revealed()) page->revealed = true;
      if (skip > 0) {
        --skip;
        continue;
      }
      line = ExportLine(e);
      line.push_back('\n');
      if (absl::Status st = sink(line); !st.ok()) return st;
      ++page->lines;
      ++page->next_offset;
      page->resume = LedgerPosition{batch.records[i].offset + 1, e.sequence() + 1};
      if (page->lines == options.limit) {
        // Complete only if nothing of the partition is left to look at.
        page->complete = i + 1 == batch.size() && reader.position().offset >= *end;
        return absl::OkStatus();
      }
    }
    if (options.progress) options.progress(reader.position().offset, *end);
  }
  if (skip > 0)
    return absl::OutOfRangeError(absl::StrCat("offset ", cursor.offset, " is past the ",
                                              cursor.offset - skip, " events of campaign ",
                                              campaign, " in the ledger"));
  page->complete = true;
  page->resume = reader.position();
  return absl::OkStatus();
}

}  // namespace tl
