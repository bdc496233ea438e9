#include "projections/postgres/pg_reader.h"

namespace tl::proj {

namespace {

// The partition's applied sequence, or the StoreBehind error when it is
// before `min_sequence`.
absl::Status CheckApplied(pqxx::work& tx, int partition, uint64_t min_sequence) {
  auto ck = tx.exec_params("SELECT next_sequence FROM checkpoints WHERE ledger_partition = $1",
                           partition);
  uint64_t applied = ck.empty() ? 1 : ck[0][0].as<uint64_t>();
  if (applied < min_sequence) return api::StoreBehind("postgres", applied, min_sequence);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<api::ResultsView> PgReader::Results(int partition, uint64_t min_sequence,
                                                   const std::string& campaign, uint64_t cursor,
                                                   uint64_t limit, const std::string& outcome,
                                                   const std::string& item) {
  api::ResultsView v;
  absl::Status behind;
  absl::Status st = sink_.Read([&](pqxx::work& tx) {
    behind = CheckApplied(tx, partition, min_sequence);
    if (!behind.ok()) return;
    // entries_by_outcome serves both: (campaign, outcome, position); with an
    // item, entries_by_item (campaign, item_id, outcome, position). The
    // filters are spelt out only when set (quoted by the driver), so the
    // planner sees the index.
    std::string sql =
        "SELECT position, user_id, outcome FROM entries WHERE campaign = $1 AND position > $2 "
        "AND outcome IS NOT NULL";
    if (!outcome.empty()) sql += " AND outcome = " + tx.quote(outcome);
    if (!item.empty()) sql += " AND item_id = " + tx.quote(item);
    sql += " ORDER BY position LIMIT $3";
    auto rows = tx.exec_params(sql, campaign, cursor, limit + 1);
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

absl::StatusOr<api::WaitlistView> PgReader::Waitlist(int partition, uint64_t min_sequence,
                                                     const std::string& campaign, uint64_t cursor,
                                                     uint64_t limit, const std::string& item) {
  api::WaitlistView v;
  absl::Status behind;
  absl::Status st = sink_.Read([&](pqxx::work& tx) {
    behind = CheckApplied(tx, partition, min_sequence);
    if (!behind.ok()) return;
    auto promoted =
        item.empty()
            ? tx.exec_params("SELECT promoted FROM campaigns WHERE campaign = $1", campaign)
            : tx.exec_params("SELECT promoted FROM items WHERE campaign = $1 AND item_id = $2",
                             campaign, item);
    if (!promoted.empty()) v.promoted = promoted[0][0].as<uint64_t>();
    // entries_waitlist: (campaign, waitlist_rank) WHERE outcome = 'waitlisted'.
    std::string sql =
        "SELECT waitlist_rank, position, user_id FROM entries WHERE campaign = $1 AND outcome = "
        "'waitlisted' AND waitlist_rank > $2";
    if (!item.empty()) sql += " AND item_id = " + tx.quote(item);
    sql += " ORDER BY waitlist_rank LIMIT $3";
    auto rows = tx.exec_params(sql, campaign, cursor, limit + 1);
    for (const auto& row : rows) {
      if (v.items.size() == limit) {
        v.next_cursor = v.items.back().drawn_rank;
        break;
      }
      api::WaitlistView::Item item;
      item.drawn_rank = row[0].as<uint64_t>();
      item.rank = item.drawn_rank > v.promoted ? item.drawn_rank - v.promoted : 0;
      item.position = row[1].as<uint64_t>();
      item.user = row[2].c_str();
      v.items.push_back(std::move(item));
    }
  });
  if (!st.ok()) return st;
  if (!behind.ok()) return behind;
  return v;
}

}  // namespace tl::proj
