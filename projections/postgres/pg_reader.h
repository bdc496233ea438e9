// The api's reads from the PostgreSQL read model: a campaign's results and
// its waitlist by cursor, read with the partition's checkpoint in one
// transaction so a schema that is behind the api's fold is never used.
#pragma once

#include <string>

#include "api/read_model.h"
#include "projections/postgres/pg_sink.h"

namespace tl::proj {

class PgReader {
 public:
  explicit PgReader(PgOptions options) : sink_(std::move(options)) {}
  // `outcome` empty: every decided entry; `item` empty: of every item
  // (entries_by_item serves "who booked item X").
  absl::StatusOr<api::ResultsView> Results(int partition, uint64_t min_sequence,
                                           const std::string& campaign, uint64_t cursor,
                                           uint64_t limit, const std::string& outcome,
                                           const std::string& item = "");
  // The entries still waitlisted, in waitlist order, after drawn rank
  // `cursor`; with items, those of `item` (its own ranks and promotions).
  absl::StatusOr<api::WaitlistView> Waitlist(int partition, uint64_t min_sequence,
                                             const std::string& campaign, uint64_t cursor,
                                             uint64_t limit, const std::string& item = "");

 private:
  PgSink sink_;  // its Read(): lock, connection and errors
};

}  // namespace tl::proj
