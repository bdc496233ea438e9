#include "projections/postgres/pg_reader.h"

namespace tl::proj {

absl::StatusOr<api::ResultsView> PgReader::Results(int partition, uint64_t min_sequence,
                                                   const std::string& campaign, uint64_t cursor,
                                                   uint64_t limit, const std::string& outcome) {
  api::ResultsView v;
  absl::Status behind;
  absl::Status st = sink_.Read([&](pqxx::work& tx) {
    auto ck = tx.exec_params("SELECT next_sequence FROM checkpoints WHERE ledger_partition = $1",
                             partition);
    uint64_t applied = ck.empty() ? 1 : ck[0][0].as<uint64_t>();
    if (applied < min_sequence) {
      behind = api::StoreBehind("postgres", applied, min_sequence);
      return;
    }
    // entries_by_outcome serves both: (campaign, outcome, position).
    auto rows = tx.exec_params(
        "SELECT position, user_id, outcome FROM entries WHERE campaign = $1 AND position > $2 "
        "AND outcome IS NOT NULL AND ($3 = '' OR outcome = $3) ORDER BY position LIMIT $4",
        campaign, cursor, outcome, limit + 1);
    for (const auto& row : rows) {
      if (v.items.size() == limit) {
        v.next_cursor = std::get<0>(v.items.back());
        break;
      }
      v.items.emplace_back(row[0].as<uint64_t>(), row[1].c_str(), row[2].c_str());
    }
  });
  if (!st.ok()) return st;
  if (!behind.ok()) return behind;
  return v;
}

}  // namespace tl::proj
