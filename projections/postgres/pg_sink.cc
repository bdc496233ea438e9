#include "projections/postgres/pg_sink.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "engine/core/hash.h"
#include "engine/core/names.h"
#include "projections/delta.h"

namespace tl::proj {
namespace {

std::string Time(uint64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S+00", absl::FromUnixMillis(static_cast<int64_t>(ms)),
                          absl::UTCTimeZone());
}

// A nullable COPY field: nullptr is NULL.
const char* Nullable(const std::string& s, bool null) { return null ? nullptr : s.c_str(); }

// The columns of issue 14 an entry row may carry, as COPY text (NULL: this
// batch did not set it).
// With issue 15's: item_id, quantity, choose_until.
struct HoldFields {
  explicit HoldFields(const EntryRow& r)
      : hold_until(r.hold_until_ms ? Time(r.hold_until_ms) : ""),
        confirmed_at(r.confirmed_at_ms ? Time(r.confirmed_at_ms) : ""),
        waitlist_rank(r.waitlist_rank ? std::to_string(r.waitlist_rank) : ""),
        promoted_at(r.promoted_at_ms ? Time(r.promoted_at_ms) : ""),
        quantity(std::to_string(r.quantity)),
        choose_until(r.choose_until_ms ? Time(r.choose_until_ms) : ""),
        row(r) {}
  auto Tuple() const {
    return std::make_tuple(
        Nullable(hold_until, row.hold_until_ms == 0),
        Nullable(confirmed_at, row.confirmed_at_ms == 0),
        Nullable(row.pass_id, row.pass_id.empty()), Nullable(waitlist_rank, row.waitlist_rank == 0),
        Nullable(promoted_at, row.promoted_at_ms == 0), Nullable(row.item_id, row.item_id.empty()),
        Nullable(quantity, row.item_id.empty()), Nullable(choose_until, row.choose_until_ms == 0));
  }
  std::string hold_until, confirmed_at, waitlist_rank, promoted_at, quantity, choose_until;
  const EntryRow& row;
};

}  // namespace

PgSink::PgSink(PgOptions options) : options_(std::move(options)) {}

absl::Status PgSink::Connect() {
  if (conn_ && conn_->is_open()) return absl::OkStatus();
  try {
    conn_ = std::make_unique<pqxx::connection>(options_.url);
  } catch (const std::exception& e) {
    conn_.reset();
    return absl::UnavailableError(absl::StrCat("postgres: cannot connect: ", e.what()));
  }
  return absl::OkStatus();
}

// Runs fn; connection trouble is Unavailable (and drops the connection so
// the next call reconnects), SQL errors Internal.
absl::Status PgSink::Guarded(const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return absl::UnavailableError(absl::StrCat("postgres: connection lost: ", e.what()));
  } catch (const pqxx::sql_error& e) {
    if (conn_ && !conn_->is_open()) conn_.reset();
    return absl::InternalError(absl::StrCat("postgres: ", e.what()));
  } catch (const std::exception& e) {
    conn_.reset();
    return absl::UnavailableError(absl::StrCat("postgres: ", e.what()));
  }
}

absl::Status PgSink::Transaction(const std::string& search_path,
                                 const std::function<absl::Status(pqxx::work&)>& fn) {
  absl::MutexLock lock(&mu_);
  if (absl::Status st = Connect(); !st.ok()) return st;
  return Guarded([&]() -> absl::Status {
    pqxx::work tx(*conn_);
    if (!search_path.empty()) tx.exec("SET LOCAL search_path TO " + tx.quote_name(search_path));
    return fn(tx);
  });
}

absl::Status PgSink::Migrate(const std::string& schema) {
  for (const Migration& m : Migrations()) {
    absl::Status st = Transaction("", [&](pqxx::work& tx) -> absl::Status {
      // One migrator at a time, whoever starts first.
      tx.exec("SELECT pg_advisory_xact_lock(7406001)");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS public.ticketledger_migrations (schema_name text NOT NULL, "
          "version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT "
          "now(), PRIMARY KEY (schema_name, version))");
      pqxx::result done = tx.exec_params(
          "SELECT 1 FROM public.ticketledger_migrations WHERE schema_name = $1 AND version = $2",
          schema, m.version);
      if (!done.empty()) return absl::OkStatus();  // tx rolls back: nothing to do
      tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(schema));
      tx.exec(absl::StrReplaceAll(m.sql, {{"{{schema}}", tx.quote_name(schema)}}));
      tx.exec_params(
          "INSERT INTO public.ticketledger_migrations (schema_name, version, name) VALUES ($1, "
          "$2, $3)",
          schema, m.version, std::string(m.name));
      tx.commit();
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status PgSink::Load(int partitions, std::vector<Checkpoint>* out) {
  if (absl::Status st = Migrate(options_.schema); !st.ok()) return st;
  out->assign(partitions, Checkpoint{});
  return Transaction(options_.schema, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r =
        tx.exec("SELECT ledger_partition, next_offset, next_sequence FROM checkpoints");
    for (const auto& row : r) {
      int p = row[0].as<int>();
      if (p < 0 || p >= partitions)
        return absl::FailedPreconditionError(
            absl::StrCat("postgres: a checkpoint for ledger partition ", p, ", but the ledger has ",
                         partitions, " partitions"));
      (*out)[p] = {row[1].as<uint64_t>(), row[2].as<uint64_t>()};
    }
    return absl::OkStatus();
  });
}

namespace {

// Moves partition's checkpoint from `from` to `to`, first thing in a batch:
// if it is not where this batch began, FailedPrecondition (rolled back).
absl::Status MoveCheckpoint(pqxx::work& tx, int partition, const Checkpoint& from,
                            const Checkpoint& to) {
  pqxx::result moved = tx.exec_params(
      "UPDATE checkpoints SET next_offset = $1, next_sequence = $2 WHERE ledger_partition = $3 "
      "AND next_offset = $4 AND next_sequence = $5",
      to.next_offset, to.next_sequence, partition, from.next_offset, from.next_sequence);
  if (moved.affected_rows() != 0) return absl::OkStatus();
  pqxx::result inserted =
      tx.exec_params("INSERT INTO checkpoints VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                     partition, to.next_offset, to.next_sequence);
  if (inserted.affected_rows() == 0 || !(from == Checkpoint{}))
    return absl::FailedPreconditionError("postgres: the checkpoint moved");
  return absl::OkStatus();
}

using Deltas = std::map<std::string, CampaignDelta>;

// New entries (with their outcome if decided in the same batch), by COPY.
void CopyEntered(pqxx::work& tx, const Deltas& deltas, const std::string& part) {
  pqxx::stream_to copy(
      tx, "entries",
      std::vector<std::string>{
          "campaign", "position", "user_id", "outcome", "draw_value", "entered_at", "decided_at",
          "ledger_partition", "entered_sequence", "decided_sequence", "hold_until", "confirmed_at",
          "pass_id", "waitlist_rank", "promoted_at", "item_id", "quantity", "choose_until"});
  for (const auto& [id, d] : deltas) {
    for (const auto& [pos, r] : d.entered) {
      const bool open = r.outcome.empty();
      const std::string dv = std::to_string(r.draw_value), at = Time(r.decided_at_ms),
                        seq = std::to_string(r.decided_sequence);
      const HoldFields hold(r);
      copy << std::tuple_cat(
          std::make_tuple(id, std::to_string(pos), r.user, Nullable(r.outcome, open),
                          Nullable(dv, !r.drawn), Time(r.entered_at_ms), Nullable(at, open), part,
                          std::to_string(r.entered_sequence), Nullable(seq, open)),
          hold.Tuple());
    }
  }
  copy.complete();
}

// Outcomes of entries from earlier batches: one UPDATE from a temp table.
void UpdateChanged(pqxx::work& tx, const Deltas& deltas) {
  tx.exec(
      "CREATE TEMP TABLE changed (campaign text, position bigint, outcome text, draw_value "
      "numeric(20,0), decided_at timestamptz, decided_sequence bigint, hold_until timestamptz, "
      "confirmed_at timestamptz, pass_id text, waitlist_rank bigint, promoted_at timestamptz, "
      "item_id text, quantity integer, choose_until timestamptz) ON COMMIT DROP");
  {
    pqxx::stream_to copy(tx, "changed");
    for (const auto& [id, d] : deltas) {
      for (const auto& [pos, r] : d.changed) {
        // Every changed row comes from an event that set its outcome.
        const std::string dv = std::to_string(r.draw_value);
        const HoldFields hold(r);
        copy << std::tuple_cat(
            std::make_tuple(id, std::to_string(pos), r.outcome, Nullable(dv, !r.drawn),
                            Time(r.decided_at_ms), std::to_string(r.decided_sequence)),
            hold.Tuple());
      }
    }
    copy.complete();
  }
  // A column this batch did not set (NULL) keeps what earlier batches wrote.
  tx.exec(
      "UPDATE entries e SET outcome = c.outcome, draw_value = COALESCE(c.draw_value, "
      "e.draw_value), decided_at = c.decided_at, decided_sequence = c.decided_sequence, "
      "hold_until = COALESCE(c.hold_until, e.hold_until), confirmed_at = COALESCE(c.confirmed_at, "
      "e.confirmed_at), pass_id = COALESCE(c.pass_id, e.pass_id), waitlist_rank = "
      "COALESCE(c.waitlist_rank, e.waitlist_rank), promoted_at = COALESCE(c.promoted_at, "
      "e.promoted_at), item_id = COALESCE(c.item_id, e.item_id), quantity = COALESCE(c.quantity, "
      "e.quantity), choose_until = COALESCE(c.choose_until, e.choose_until) FROM changed c WHERE "
      "e.campaign = c.campaign AND e.position = c.position");
}

void CopyStock(pqxx::work& tx, const Deltas& deltas, const std::string& part) {
  pqxx::stream_to copy(
      tx, "stock_changes",
      std::vector<std::string>{"ledger_partition", "sequence", "campaign", "delta", "reason",
                               "stock_left", "changed_at", "item_id", "item_stock_left"});
  for (const auto& [id, d] : deltas) {
    for (const StockRow& s : d.stock) {
      const std::string item_left = std::to_string(s.item_stock_left);
      copy << std::make_tuple(part, std::to_string(s.sequence), id, std::to_string(s.delta),
                              s.reason, std::to_string(s.stock_left), Time(s.time_ms),
                              Nullable(s.item_id, s.item_id.empty()),
                              Nullable(item_left, s.item_id.empty()));
    }
  }
  copy.complete();
}

// A campaign's row: inserted when created, then the values the batch set
// and the counters it moved.
void UpsertCampaign(pqxx::work& tx, int partition, const std::string& id, const CampaignDelta& d) {
  if (d.created) {
    const auto& cfg = d.created->config();
    uint64_t stock = cfg.stock();  // with items, their sum
    for (const pb::Item& item : cfg.items()) stock += item.stock();
    const bool items = cfg.items_size() > 0;
    tx.exec_params(
        "INSERT INTO campaigns (campaign, title, stock, win_bps, admission_rate_per_s, "
        "queueing, seed_commitment, stock_left, created_at, ledger_partition, last_sequence, "
        "hold_s, draw, entropy_source, per_user_max, choose, choose_s) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $3, to_timestamp($8::double precision / 1000), "
        "$9, $10, $11, $12, $13, $14, $15, $16)",
        id, cfg.title(), stock, cfg.win_bps(), cfg.admission_rate_per_s(),
        std::string(QueueingName(cfg.queueing())), ToHex(d.created->seed_commitment()),
        d.created_at_ms, partition, d.last_sequence, cfg.hold_s(),
        std::string(DrawName(cfg.draw())), cfg.entropy_source(),
        cfg.per_user_max() == 0 ? 1u : cfg.per_user_max(),
        items ? std::string(ChooseName(cfg.choose())) : std::string(), cfg.choose_s());
    for (int i = 0; i < cfg.items_size(); ++i) {
      const pb::Item& item = cfg.items(i);
      tx.exec_params(
          "INSERT INTO items (campaign, item_id, ordinal, label, stock, per_user_max, "
          "stock_left) VALUES ($1, $2, $3, $4, $5, $6, $5)",
          id, item.id(), i, item.label(), item.stock(), item.per_user_max());
    }
  }
  for (const auto& [item, n] : d.items) {
    const std::optional<std::string> left =
        n.stock_left ? std::optional<std::string>(std::to_string(*n.stock_left)) : std::nullopt;
    tx.exec_params(
        "UPDATE items SET stock_left = COALESCE($3::bigint, stock_left), taken = taken + $4, "
        "returned = returned + $5, restocked = restocked + $6, waitlisted = waitlisted + $7, "
        "promoted = promoted + $8 WHERE campaign = $1 AND item_id = $2",
        id, item, left ? left->c_str() : nullptr, n.taken, n.returned, n.restocked, n.waitlisted,
        n.promoted);
  }
  if (!d.confirmed_positions.empty()) {
    // A confirmation names no item: its units are the entry's, stored by now.
    std::string positions = "{";
    for (uint64_t pos : d.confirmed_positions)
      absl::StrAppend(&positions, positions.size() > 1 ? "," : "", pos);
    positions += "}";
    tx.exec_params(
        "UPDATE items i SET confirmed = i.confirmed + s.units FROM (SELECT item_id, "
        "sum(quantity) AS units FROM entries WHERE campaign = $1 AND position = ANY($2::bigint[]) "
        "AND item_id IS NOT NULL GROUP BY item_id) s WHERE i.campaign = $1 AND i.item_id = "
        "s.item_id",
        id, positions);
  }
  auto opt = [](const std::optional<uint64_t>& v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  };
  std::optional<std::string> entries = opt(d.entries), serving = opt(d.serving),
                             stock_left = opt(d.stock_left);
  std::optional<std::string> status, paused, seed, merkle_root,
      merkle_leaves = opt(d.merkle_leaves);
  if (d.closed) status = CampaignStatusName(*d.closed);
  if (d.paused) paused = *d.paused ? "true" : "false";
  if (d.seed) seed = ToHex(*d.seed);
  if (d.merkle_root) merkle_root = ToHex(*d.merkle_root);
  auto p = [](const std::optional<std::string>& v) -> const char* {
    return v ? v->c_str() : nullptr;
  };
  tx.exec_params(
      "UPDATE campaigns SET entries = COALESCE($2::bigint, entries), serving = "
      "COALESCE($3::bigint, serving), stock_left = COALESCE($4::bigint, stock_left), status = "
      "COALESCE($5, status), admission_paused = COALESCE($6::boolean, admission_paused), seed "
      "= COALESCE($7, seed), won = won + $8, lost = lost + $9, sold_out = sold_out + $10, "
      "cancelled = cancelled + $11, restocked = restocked + $12, rejected = rejected + $13, "
      "prequeued = prequeued + $14, last_sequence = $15, merkle_root = COALESCE($16, "
      "merkle_root), merkle_leaves = COALESCE($17::bigint, merkle_leaves), entropy_value = "
      "COALESCE($18, entropy_value), confirmed = confirmed + $19, expired = expired + $20, "
      "waitlisted = waitlisted + $21, promoted = promoted + $22, admitted_choosing = "
      "admitted_choosing + $23, chosen = chosen + $24, choices_expired = choices_expired + $25 "
      "WHERE campaign = $1",
      id, p(entries), p(serving), p(stock_left), p(status), p(paused), p(seed), d.won, d.lost,
      d.sold_out, d.cancelled, d.restocked, d.rejected, d.prequeued_delta, d.last_sequence,
      p(merkle_root), p(merkle_leaves), p(d.entropy_value), d.confirmed, d.expired, d.waitlisted,
      d.promoted, d.admitted_choosing, d.chosen, d.choices_expired);
}

}  // namespace

absl::Status PgSink::Apply(int partition, const std::vector<pb::Event>& events,
                           const Checkpoint& from, const Checkpoint& to) {
  return Transaction(options_.schema, [&](pqxx::work& tx) -> absl::Status {
    if (absl::Status st = MoveCheckpoint(tx, partition, from, to); !st.ok()) return st;
    const Deltas deltas = Summarize(events);
    const std::string part = std::to_string(partition);
    bool any_entered = false, any_changed = false, any_stock = false;
    for (const auto& [id, d] : deltas) {
      any_entered |= !d.entered.empty();
      any_changed |= !d.changed.empty();
      any_stock |= !d.stock.empty();
    }
    if (any_entered) CopyEntered(tx, deltas, part);
    if (any_changed) UpdateChanged(tx, deltas);
    if (any_stock) CopyStock(tx, deltas, part);
    for (const auto& [id, d] : deltas) UpsertCampaign(tx, partition, id, d);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status PgSink::Swap(const std::string& rebuilt, const std::string& live) {
  return Transaction("", [&](pqxx::work& tx) -> absl::Status {
    const std::string old = live + "_old";
    tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(old) + " CASCADE");
    tx.exec("ALTER SCHEMA " + tx.quote_name(live) + " RENAME TO " + tx.quote_name(old));
    tx.exec("ALTER SCHEMA " + tx.quote_name(rebuilt) + " RENAME TO " + tx.quote_name(live));
    tx.exec_params("DELETE FROM public.ticketledger_migrations WHERE schema_name = $1", live);
    tx.exec_params(
        "UPDATE public.ticketledger_migrations SET schema_name = $1 WHERE schema_name = $2", live,
        rebuilt);
    tx.exec("DROP SCHEMA " + tx.quote_name(old) + " CASCADE");
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> PgSink::SwapCampaign(const std::string& fresh_schema,
                                          const std::string& campaign, int partition,
                                          const Checkpoint& at) {
  bool swapped = false;
  absl::Status st = Transaction(options_.schema, [&](pqxx::work& tx) -> absl::Status {
    // Holding the live checkpoint row: the projector waits, then goes on.
    auto row = tx.exec_params(
        "SELECT next_offset, next_sequence FROM checkpoints WHERE ledger_partition = $1 FOR "
        "UPDATE",
        partition);
    Checkpoint now;
    if (!row.empty()) now = {row[0][0].as<uint64_t>(), row[0][1].as<uint64_t>()};
    if (!(now == at)) return absl::OkStatus();  // moved on: rolled back
    const std::string src = tx.quote_name(fresh_schema);
    for (const char* table : {"entries", "stock_changes", "campaigns", "items"}) {
      tx.exec_params(absl::StrCat("DELETE FROM ", table, " WHERE campaign = $1"), campaign);
      tx.exec_params(absl::StrCat("INSERT INTO ", table, " SELECT * FROM ", src, ".", table,
                                  " WHERE campaign = $1"),
                     campaign);
    }
    tx.commit();
    swapped = true;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return swapped;
}

absl::Status PgSink::DropSchema(const std::string& schema) {
  return Transaction("", [&](pqxx::work& tx) -> absl::Status {
    tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
    tx.exec_params("DELETE FROM public.ticketledger_migrations WHERE schema_name = $1", schema);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status PgSink::Read(const std::function<void(pqxx::work&)>& fn) {
  return Transaction(options_.schema, [&](pqxx::work& tx) {
    fn(tx);
    return absl::OkStatus();
  });
}

}  // namespace tl::proj
