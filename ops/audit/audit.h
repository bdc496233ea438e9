// `ticketctl audit`: replays the ledger (and the commands log, where there is
// one) and proves — or refutes — that a drop was run as announced.
//
// Independent of the engine's fold: it re-checks every rule from the events
// themselves (gapless positions, one entry per user, admissions in order and
// within the configured rate, stock, outcomes against the draw values and the
// stock left, cancellations, what may follow a close), verifies the revealed
// seed against the commitment and re-derives every draw from it, re-runs
// decide over the commands log for determinism, and tests the observed win
// rate and the uniformity of the draw values.
//
// Holds and the at-close draw (issue 14): every won unit is confirmed, given
// back or expired at most once; confirmations only within a live hold and
// naming the entry's pass; expiries only at or after their deadline, in
// (deadline, position) order, and no hold outlives its deadline past the
// first event at or after it; every promotion takes the waitlist head with a
// unit returned in the same answer, until stock or waitlist runs out; the
// at-close selection and waitlist order are re-derived from the revealed seed
// and CampaignClosed.entropy_value (engine/core/draw.h); the Merkle root is
// recomputed from the QueueEntered events (engine/core/merkle.h); and for an
// at-close drop, the win probability is tested against arrival order.
//
// Items (issue 15): per item, units never negative and stock left + taken -
// returned = stock + restocked, the events' item_stock_left and the campaign
// total agreeing; every request filled whole or refused whole (a WON only
// when the whole quantity fit, a SOLD_OUT only when it did not), give-backs
// and expiries returning exactly the units taken, quantities within the
// per-user maxima; at close, the per-item selection and waitlists and the
// promotions (head first, only when its quantity fits). Choosing on
// admission: ADMITTED draws with their deadline, the admission gate, every
// choice by an admitted user before the deadline with the units left, every
// ITEM_FULL refusal only when fewer were left than asked, and the choice
// expiries in (deadline, position) order. The win rate is tested per item.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/draw.h"
#include "engine/core/state.h"
#include "engine/log/event_log.h"

namespace tl {

struct AuditOptions {
  std::string campaign;               // empty: every campaign
  std::map<std::string, Seed> seeds;  // seeds given for unrevealed campaigns
  // Re-decide over the commands log (needs the engine's seed secret in
  // `config`; a secret that does not reproduce the commitments is reported
  // as "could not check").
  bool determinism = true;
  EngineConfig config;
  bool have_secret = false;
};

struct Finding {
  std::string campaign;
  std::string check;   // e.g. "gapless positions", "draw value", "seed"
  std::string detail;  // names the position / sequence / ledger offset
};

struct BinomialTest {
  uint64_t n = 0, k = 0;  // eligible draws, wins among them (value under threshold)
  double p0 = 0;          // configured rate
  double observed = 0;
  double wilson95[2] = {0, 0}, wilson999[2] = {0, 0};
  double p_value = 1;  // exact two-sided binomial test against p0
};

struct UniformityTest {
  uint64_t n = 0;
  uint64_t bins[16] = {};
  double chi_square = 0;  // 15 degrees of freedom
  double p_value = 1;
};

// At-close drops: does the chance to win depend on when one arrived? The
// positions split into 10 arrival deciles (position p in decile
// floor((p - 1) * 10 / n)); a 2 x 10 Pearson chi-square of won / not won
// against the decile, expected counts from the overall win rate (9 degrees
// of freedom).
struct ArrivalTest {
  bool tested = false;  // false: no at-close draw, or too few for the test
  uint64_t n = 0, wins = 0;
  uint64_t size[10] = {}, won[10] = {};
  double chi_square = 0;
  double p_value = 1;
};

// Items (issue 15): one item's units, re-counted from the events.
struct ItemAudit {
  std::string id;
  uint64_t stock = 0, per_user_max = 0;  // per_user_max: the item's, or the campaign's
  uint64_t stock_left = 0, taken = 0, returned = 0, restocked = 0, confirmed = 0;  // units
  uint64_t won = 0, sold_out = 0, waitlisted = 0, promoted = 0;                    // entries
  BinomialTest rate;  // at-entry lotteries: draws made while units of this item remained
};

struct CampaignAudit {
  std::string id;
  // Items: "at_entry" or "on_admission" ("" without items), and per item.
  std::string choose;
  std::vector<ItemAudit> items;
  uint64_t chosen = 0, choices_expired = 0, item_full_refusals = 0;
  uint32_t win_bps = 0;
  std::string draw = "instant";  // or "at_close"
  uint32_t hold_s = 0;
  uint64_t stock = 0, entries = 0, admitted = 0, drawn = 0, won = 0, lost = 0, sold_out = 0,
           cancelled = 0, restocked = 0, stock_left = 0;
  // won counts promotions; waitlisted: drawn WAITLISTED at close.
  uint64_t confirmed = 0, expired = 0, promoted = 0, waitlisted = 0;
  bool closed = false;
  std::string merkle;               // how the Merkle root was checked, in words
  std::vector<std::string> checks;  // the hold / at-close / receipt checks made, with counts
  ArrivalTest arrival;
  std::string seed;                      // how the seed was checked, in words
  uint64_t rederived = 0;                // draws re-derived from the seed
  std::vector<std::string> not_checked;  // checks that could not be made, and why
  BinomialTest rate;
  UniformityTest uniformity;
  std::string verdict;  // plain language
};

struct AuditReport {
  std::vector<CampaignAudit> campaigns;
  std::vector<Finding> violations;  // at most 20 per campaign and check are listed
  uint64_t violations_total = 0;
  uint64_t ledger_records = 0, ledger_events = 0, commands = 0;
  std::string determinism;  // what the re-decide found, in words
  std::string error;        // non-empty: could not audit (exit 2)
  int ExitCode() const { return !error.empty() ? 2 : violations_total > 0 ? 1 : 0; }
};

// `progress(records done, records total)`.
AuditReport Audit(EventLog* ledger, EventLog* commands, const AuditOptions& options,
                  const std::function<void(uint64_t, uint64_t)>& progress = {});

std::string RenderAuditText(const AuditReport& report);
nlohmann::json RenderAuditJson(const AuditReport& report);

// The statistics, exposed for tests.
void WilsonInterval(uint64_t k, uint64_t n, double z, double out[2]);
double BinomialTwoSidedP(uint64_t k, uint64_t n, double p0);
double ChiSquareUpperP(double x, double dof);
// Fills chi_square and p_value from size[] and won[] (tested stays as given).
void ArrivalChiSquare(ArrivalTest* t);

}  // namespace tl
