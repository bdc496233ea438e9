#include "ops/audit/audit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/core/merkle.h"
#include "engine/core/step.h"
#include "engine/log/decode.h"
#include "engine/log/ledger_reader.h"

namespace tl {

// ---- statistics -----------------------------------------------------------

void WilsonInterval(uint64_t k, uint64_t n, double z, double out[2]) {
  if (n == 0) {
    out[0] = 0;
    out[1] = 1;
    return;
  }
  const double p = double(k) / n, z2 = z * z, dn = double(n);
  const double centre = (p + z2 / (2 * dn)) / (1 + z2 / dn);
  const double half = z * std::sqrt(p * (1 - p) / dn + z2 / (4 * dn * dn)) / (1 + z2 / dn);
  out[0] = std::max(0.0, centre - half);
  out[1] = std::min(1.0, centre + half);
}

double BinomialTwoSidedP(uint64_t k, uint64_t n, double p0) {
  if (n == 0) return 1;
  if (p0 <= 0) return k == 0 ? 1 : 0;
  if (p0 >= 1) return k == n ? 1 : 0;
  const double lp = std::log(p0), lq = std::log1p(-p0), lgn = std::lgamma(double(n) + 1);
  auto logpmf = [&](uint64_t x) {
    return lgn - std::lgamma(double(x) + 1) - std::lgamma(double(n - x) + 1) + x * lp +
           (n - x) * lq;
  };
  // Sum the probabilities of every outcome no more likely than the observed
  // one (the exact test's definition), walking out from the mode until the
  // terms underflow.
  const double limit = logpmf(k) + 1e-7;
  const uint64_t mode = std::min<uint64_t>(n, static_cast<uint64_t>((n + 1) * p0));
  double sum = 0;
  for (uint64_t x = mode + 1; x <= n; ++x) {
    double l = logpmf(x);
    if (l <= limit) sum += std::exp(l);
    if (l < -745 && x > k) break;
  }
  for (uint64_t x = mode + 1; x-- > 0;) {
    double l = logpmf(x);
    if (l <= limit) sum += std::exp(l);
    if (l < -745 && x < k) break;
  }
  return std::min(1.0, sum);
}

namespace {

// Regularized upper incomplete gamma Q(a, x) (Numerical Recipes' series and
// continued fraction).
double GammaQ(double a, double x) {
  if (x <= 0) return 1;
  const double gln = std::lgamma(a);
  if (x < a + 1) {
    double ap = a, sum = 1 / a, del = sum;
    for (int i = 0; i < 1000; ++i) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-15) break;
    }
    return 1 - sum * std::exp(-x + a * std::log(x) - gln);
  }
  double b = x + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (std::fabs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

constexpr size_t kListedPerCheck = 20;
// Records per read: large, because a read that starts inside a chunk (one
// engine step, up to ~12k records) decodes and checksums the whole chunk.
constexpr size_t kReadBatch = 65536;
// Batches the ledger pass reads ahead of the checks.
constexpr size_t kReadAhead = 2;
constexpr double kZ95 = 1.959963984540054, kZ999 = 3.290526731491926;

enum : uint8_t {
  kQueued = 0,
  kWon,  // a standing win: held (until hold_until) or final (hold_s 0)
  kLost,
  kSoldOut,
  kCancelled,
  kConfirmed,
  kExpired,
  kWaitlisted,    // drawn WAITLISTED at close, not promoted (yet)
  kChoosing,      // drawn ADMITTED: may choose an item until its deadline
  kChoiceLapsed,  // ChoiceExpired
  kUndrawn = 255
};

const char* StatusWord(uint8_t s) {
  switch (s) {
    case kWon:
      return "won";
    case kLost:
      return "lost";
    case kSoldOut:
      return "sold out";
    case kCancelled:
      return "given back";
    case kConfirmed:
      return "confirmed";
    case kExpired:
      return "expired";
    case kWaitlisted:
      return "waitlisted";
    case kChoosing:
      return "admitted (choosing)";
    case kChoiceLapsed:
      return "admitted, choice expired";
    default:
      return "not drawn";
  }
}

// An at-close outcome by position (Campaign::close_result): LOST, WON, or
// the waitlist rank (1..).
constexpr uint64_t kCloseLost = 0, kCloseWon = ~uint64_t{0};

std::string CloseWord(uint64_t r) {
  if (r == kCloseLost) return "LOST";
  if (r == kCloseWon) return "WON";
  return absl::StrCat("WAITLISTED rank ", r);
}

struct Campaign {
  CampaignAudit out;
  pb::CreateCampaign cfg;
  std::string commitment;
  uint64_t created_ms = 0;
  bool created = false, revealed = false, have_seed = false;
  Drawer drawer;      // from the seed, once have_seed
  Seed seed{};        // once have_seed (the at-close key derives from it)
  int partition = 0;  // of its events
  // Re-deriving the draw values waits for Finish (Auditor's rederive_later).
  bool rederive = false;
  uint64_t seed_offset = 0, seed_sequence = 0;  // the event that gave the seed
  std::deque<std::string> users;                // by position - 1 (stable addresses)
  UserIndex position_of;         // 0: pre-queued (the engine's index: hash kept, huge pages)
  std::vector<uint64_t> values;  // logged draw value by position - 1
  std::vector<uint8_t> status;   // by position - 1
  std::vector<const std::string*> by_position;  // the user at position - 1
  uint64_t serving = 0;
  std::map<std::string, size_t> listed;  // findings listed per check

  // Holds (hold_s > 0): the deadline by position - 1, and the live ones.
  bool at_close = false;
  uint64_t hold_ms = 0;            // cfg.hold_s() in ms
  std::vector<uint64_t> entry_ms;  // QueueEntered time_ms by position - 1 (Merkle leaves)
  std::vector<uint64_t> hold_until;
  absl::btree_set<std::pair<uint64_t, uint64_t>> live;  // (deadline, position)
  absl::flat_hash_set<uint64_t> late_listed;  // positions already reported as outliving a hold
  uint64_t confirmed_checked = 0, expiries_checked = 0;

  // The at-close draw: CampaignClosed opens it (close_pending), the end of
  // that answer checks it (close_drawn).
  bool close_pending = false, close_drawn = false;
  uint64_t close_stock = 0, close_draws = 0;
  std::string entropy;
  std::vector<uint64_t> close_result;  // by position - 1: kCloseLost, kCloseWon or the rank
  bool merkle_checked = false;

  // The answer (one command's events) being read: promotions need a unit
  // returned in the same answer; HoldExpired and EntryCancelled need their
  // StockChanged next.
  bool in_answer = false;
  uint64_t answer_offset = 0;
  int last_partition = 0;
  uint64_t last_offset = 0, last_sequence = 0;
  int64_t returned = 0;    // units returned in this answer, not yet promoted
  int64_t imbalance = 0;   // the stock balance last reported
  uint64_t stock_due = 0;  // the position awaiting its StockChanged
  pb::StockReason stock_due_reason = pb::STOCK_REASON_UNSPECIFIED;

  // Items (issue 15). Without items: one implicit item (out.items[0], not
  // reported) of one unit per entry, and item_of / qty_of stay empty.
  bool has_items = false, on_admission = false;
  uint64_t campaign_max = 1;                 // units one user may take in total
  std::map<std::string, size_t> item_index;  // item id -> index
  std::vector<uint16_t> item_of;             // by position - 1: asked for (at entry) or chosen
  std::vector<uint32_t> qty_of;              // by position - 1: units
  std::vector<std::vector<uint64_t>> item_waitlist;  // per item: positions by rank
  std::vector<int64_t> item_returned;                // per item: units back in this answer
  std::vector<int64_t> item_imbalance;               // per item: the balance last reported
  std::vector<uint64_t> item_owed_listed;            // per item: as owed_listed
  std::vector<uint64_t> close_item_left;             // per item: units left at the close
  uint64_t units_taken = 0, units_returned = 0, units_confirmed = 0;
  // Choosing on admission: the deadline by position - 1, the open ones.
  uint64_t choose_ms = 0;
  std::vector<uint64_t> choose_until;
  absl::btree_set<std::pair<uint64_t, uint64_t>> choosing;  // (deadline, position)
  absl::flat_hash_set<uint64_t> late_choice_listed;
  uint64_t item_full_unparsed = 0;
};

size_t ItemOf(const Campaign& c, uint64_t pos) { return c.has_items ? c.item_of[pos - 1] : 0; }
uint32_t QtyOf(const Campaign& c, uint64_t pos) { return c.has_items ? c.qty_of[pos - 1] : 1; }
std::string Units(uint64_t q, const Campaign& c, size_t item) {
  return c.has_items ? absl::StrCat(q, q == 1 ? " unit of " : " units of ", c.out.items[item].id)
                     : absl::StrCat(q, q == 1 ? " unit" : " units");
}

class Auditor {
 public:
  // `rederive_later`: the re-decide runs beside this pass. It derives every
  // draw value from the seed itself, so where its ledger is byte-identical
  // to this one (Finish's `identical`), every logged value IS the value the
  // seed gives: the commitment in the identical CampaignCreated binds that
  // seed, and the revealed seed (or --seed-file) is checked against the
  // commitment here as always. The draws are then re-derived here only for
  // partitions whose ledger differs -- not a second HMAC per draw.
  Auditor(const AuditOptions& o, AuditReport* r, bool rederive_later)
      : options_(o), report_(r), rederive_later_(rederive_later) {}

  void Event(const pb::Event& e, int partition, uint64_t offset) {
    if (!options_.campaign.empty() && e.campaign_id() != options_.campaign) return;
    auto& slot = campaigns_[e.campaign_id()];
    if (!slot) {
      slot = std::make_unique<Campaign>();
      slot->out.id = e.campaign_id();
    }
    Campaign& c = *slot;
    partition_ = partition;
    offset_ = offset;
    sequence_ = e.sequence();
    if (!c.created && e.body_case() != pb::Event::kCampaignCreated &&
        e.body_case() != pb::Event::kEntryRejected) {
      Bad(c, "campaign exists", "an event for a campaign that was never created");
      return;
    }
    if (c.created) Sequence(c, e);
    Dispatch(c, e);
    c.last_partition = partition_;
    c.last_offset = offset_;
    c.last_sequence = sequence_;
  }

  void Dispatch(Campaign& c, const pb::Event& e) {
    switch (e.body_case()) {
      case pb::Event::kCampaignCreated:
        return OnCreated(c, e);
      case pb::Event::kEntryPrequeued:
        return OnPrequeued(c, e);
      case pb::Event::kQueueEntered:
        return OnQueueEntered(c, e);
      case pb::Event::kEntryAdmitted:
        return OnAdmitted(c, e);
      case pb::Event::kDrawResolved:
        return OnDrawResolved(c, e);
      case pb::Event::kStockChanged:
        return OnStockChanged(c, e);
      case pb::Event::kEntryCancelled:
        return OnCancelled(c, e);
      case pb::Event::kCampaignClosed:
        return OnClosed(c, e);
      case pb::Event::kSeedRevealed:
        return OnSeedRevealed(c, e);
      case pb::Event::kEntryConfirmed:
        return OnConfirmed(c, e);
      case pb::Event::kHoldExpired:
        return OnHoldExpired(c, e);
      case pb::Event::kEntryPromoted:
        return OnPromoted(c, e);
      case pb::Event::kItemChosen:
        return OnChosen(c, e);
      case pb::Event::kChoiceExpired:
        return OnChoiceExpired(c, e);
      case pb::Event::kEntryRejected:
        return OnRejected(c, e);
      case pb::Event::kAdmissionPaused:
      case pb::Event::kAdmissionResumed:
      case pb::Event::BODY_NOT_SET:
        return;
    }
  }

  // Brings the index slots a later QueueEntered will probe into the cache
  // (a hint only; see PrefetchUser).
  void Prefetch(const pb::Event& e) const {
    if (!e.has_queue_entered()) return;
    auto it = campaigns_.find(e.campaign_id());
    if (it != campaigns_.end()) it->second->position_of.prefetch(e.queue_entered().user_id());
  }

  // `identical[p]`: re-deciding partition p gave its ledger byte for byte.
  void Finish(const std::vector<bool>& identical) {
    for (auto& [id, slot] : campaigns_) {
      Campaign& c = *slot;
      CampaignAudit& a = c.out;
      if (!c.created) continue;
      if (c.in_answer) EndAnswer(c);
      if (c.rederive) {
        partition_ = c.partition;
        offset_ = c.seed_offset;
        sequence_ = c.seed_sequence;
        Rederive(c, /*by_redecide=*/identical[c.partition]);
      }
      if (!c.have_seed) {
        a.seed = "not revealed and no --seed-file: commitment unchecked";
        a.not_checked.push_back(
            "draw values not re-derived (no seed): outcomes checked against the logged values");
      }
      if (!c.has_items) a.items.clear();  // the implicit item is the campaign
      Describe(c);
      ComputeStatistics(a);
      a.verdict = Verdict(a);
      report_->campaigns.push_back(a);
    }
  }

 private:
  // A finding about the event being checked, listed up to kListedPerCheck
  // times per check and campaign.
  void Bad(Campaign& c, const std::string& check, const std::string& detail) {
    report_->violations_total++;
    if (c.listed[check]++ < kListedPerCheck)
      report_->violations.push_back(
          {c.out.id, check,
           absl::StrCat(detail, " (ledger partition ", partition_, ", offset ", offset_,
                        ", sequence ", sequence_, ")")});
  }

  void OnCreated(Campaign& c, const pb::Event& e) {
    if (c.created) return Bad(c, "campaign exists", "created twice");
    c.created = true;
    c.partition = partition_;
    c.cfg = e.campaign_created().config();
    c.commitment = e.campaign_created().seed_commitment();
    c.created_ms = e.time_ms();
    c.out.win_bps = c.cfg.win_bps();
    c.out.stock = c.out.stock_left = c.cfg.stock();
    c.at_close = c.cfg.draw() == pb::DRAW_AT_CLOSE;
    c.out.draw = c.at_close ? "at_close" : "instant";
    c.out.hold_s = c.cfg.hold_s();
    c.hold_ms = uint64_t{c.cfg.hold_s()} * 1000;
    SetUpItems(c);
    if (auto it = options_.seeds.find(c.out.id); it != options_.seeds.end()) {
      Hash h = SeedCommitment(it->second);
      if (std::string(h.begin(), h.end()) != c.commitment) {
        report_->error = absl::StrCat("the --seed-file seed for campaign ", c.out.id,
                                      " does not match its commitment");
      } else {
        c.have_seed = true;
        c.drawer = Drawer(it->second);
        c.seed = it->second;
        c.out.seed = "given with --seed-file; matches the commitment";
        RederiveLater(c);
      }
    }
  }

  // The items of a new campaign (one implicit item without).
  void SetUpItems(Campaign& c) {
    c.has_items = c.cfg.items_size() > 0;
    c.on_admission = c.has_items && c.cfg.choose() == pb::CHOOSE_ON_ADMISSION;
    c.campaign_max = c.cfg.per_user_max() == 0 ? 1 : c.cfg.per_user_max();
    c.choose_ms = uint64_t{c.cfg.choose_s()} * 1000;
    c.out.choose = !c.has_items ? "" : c.on_admission ? "on_admission" : "at_entry";
    if (!c.has_items) {
      ItemAudit one;
      one.stock = one.stock_left = c.cfg.stock();
      one.per_user_max = 1;
      c.out.items.push_back(one);
    } else {
      if (c.cfg.stock() != 0)
        Bad(c, "item stock",
            absl::StrCat("CreateCampaign.stock is ", c.cfg.stock(),
                         " with items: the campaign's stock is the items' sum"));
      c.out.stock = 0;
      for (int i = 0; i < c.cfg.items_size(); ++i) {
        const pb::Item& x = c.cfg.items(i);
        ItemAudit it;
        it.id = x.id();
        it.stock = it.stock_left = x.stock();
        it.per_user_max = x.per_user_max() == 0
                              ? c.campaign_max
                              : std::min<uint64_t>(x.per_user_max(), c.campaign_max);
        if (!c.item_index.emplace(x.id(), static_cast<size_t>(i)).second)
          Bad(c, "item", absl::StrCat("item \"", x.id(), "\" declared twice"));
        c.out.stock += x.stock();
        c.out.items.push_back(it);
      }
      c.out.stock_left = c.out.stock;
    }
    const size_t n = c.out.items.size();
    c.item_waitlist.assign(n, {});
    c.item_returned.assign(n, 0);
    c.item_imbalance.assign(n, 0);
    c.item_owed_listed.assign(n, ~uint64_t{0});
  }

  // The index of the item an event names, or -1 after a finding.
  int ItemNamed(Campaign& c, const std::string& id, const std::string& what) {
    if (!c.has_items) {
      if (id.empty()) return 0;
      Bad(c, "item", absl::StrCat(what, " names item \"", id, "\" in a campaign without items"));
      return -1;
    }
    auto it = c.item_index.find(id);
    if (it != c.item_index.end()) return static_cast<int>(it->second);
    Bad(c, "item",
        absl::StrCat(what, " names item \"", id, "\", which the campaign does not have"));
    return -1;
  }

  // Units within the item's and the campaign's per-user maximum.
  void CheckQuantity(Campaign& c, size_t item, uint64_t q, const std::string& what) {
    const uint64_t max = c.out.items[item].per_user_max;
    if (q == 0 || q > max)
      Bad(c, "per-user maximum",
          absl::StrCat(what, " asks for ", Units(q, c, item), "; one user may take 1..", max,
                       " (the item's and the campaign's per-user maximum, campaign ",
                       c.campaign_max, ")"));
  }

  // Takes `q` units of `item` (the caller checked that they were there).
  static void TakeUnits(Campaign& c, size_t item, uint64_t q) {
    ItemAudit& it = c.out.items[item];
    it.stock_left -= std::min(it.stock_left, q);
    c.out.stock_left -= std::min(c.out.stock_left, q);
    it.taken += q;
    c.units_taken += q;
  }

  // The item_stock_left an event logs, against the units counted.
  void CheckItemLeft(Campaign& c, size_t item, uint64_t logged, uint64_t pos, const char* what) {
    if (!c.has_items || logged == c.out.items[item].stock_left) return;
    Bad(c, "item stock",
        absl::StrCat(pos == 0 ? std::string() : absl::StrCat("position ", pos, "'s "), what,
                     ": item_stock_left of ", c.out.items[item].id, " logged ", logged,
                     ", should be ", c.out.items[item].stock_left));
  }

  void OnPrequeued(Campaign& c, const pb::Event& e) {
    const std::string& u = e.entry_prequeued().user_id();
    if (c.out.closed) Bad(c, "after close", "a user pre-queued after the close");
    if (c.position_of.count(u)) return Bad(c, "one entry per user", "user " + u + " twice");
    c.users.push_back(u);  // held until the queue opens; not a position
    c.position_of.emplace(UserKey(c.users.back()), 0);
  }

  void OnQueueEntered(Campaign& c, const pb::Event& e) {
    const auto& q = e.queue_entered();
    if (c.out.closed && q.prequeue_key().empty())
      Bad(c, "after close", "an entry taken after the close");
    if (q.position() != c.out.entries + 1)
      Bad(c, "gapless positions",
          absl::StrCat("position ", q.position(), " follows ", c.out.entries));
    auto it = c.position_of.find(q.user_id());
    if (it != c.position_of.end() && !(it->second == 0 && !q.prequeue_key().empty())) {
      Bad(c, "one entry per user",
          absl::StrCat("user ", q.user_id(), " at position ", q.position(),
                       " already holds position ", it->second));
    }
    c.out.entries = std::max(c.out.entries, q.position());
    c.users.push_back(q.user_id());
    if (it != c.position_of.end()) {
      it->second = q.position();
    } else {
      c.position_of.emplace(UserKey(c.users.back()), q.position());
    }
    if (c.status.size() < q.position()) {
      c.status.resize(q.position(), kUndrawn);
      c.values.resize(q.position(), 0);
      c.by_position.resize(q.position(), nullptr);
      c.entry_ms.resize(q.position(), 0);
      if (c.hold_ms > 0) c.hold_until.resize(q.position(), 0);
      if (c.has_items) {
        c.item_of.resize(q.position(), 0);
        c.qty_of.resize(q.position(), 1);
      }
      if (c.on_admission) c.choose_until.resize(q.position(), 0);
    }
    if (c.has_items && !c.on_admission) {
      const std::string what = absl::StrCat("position ", q.position(), "'s entry");
      const int item = ItemNamed(c, q.item_id(), what);
      const uint32_t qty = q.quantity() == 0 ? 1 : q.quantity();
      if (item >= 0) {
        CheckQuantity(c, static_cast<size_t>(item), qty, what);
        c.item_of[q.position() - 1] = static_cast<uint16_t>(item);
      }
      c.qty_of[q.position() - 1] = qty;
    } else if (!q.item_id().empty() || q.quantity() > 1) {
      Bad(c, "item",
          absl::StrCat("position ", q.position(), "'s entry names item \"", q.item_id(), "\" x",
                       q.quantity(), ", but entries of this campaign name none"));
    }
    c.by_position[q.position() - 1] = &c.users.back();
    c.entry_ms[q.position() - 1] = e.time_ms();
  }

  void OnAdmitted(Campaign& c, const pb::Event& e) {
    const auto& a = e.entry_admitted();
    if (c.at_close)
      Bad(c, "at-close draw",
          absl::StrCat("position ", a.position(),
                       " admitted, but an at-close campaign admits nobody before its close"));
    if (a.position() != c.serving + 1)
      Bad(c, "admission order",
          absl::StrCat("position ", a.position(), " admitted after ", c.serving));
    if (a.position() > c.out.entries)
      Bad(c, "admission order",
          absl::StrCat("position ", a.position(), " admitted but only ", c.out.entries,
                       " entered"));
    if (c.on_admission && !c.choosing.empty() && c.out.stock_left <= c.choosing.size())
      Bad(c, "admission gate",
          absl::StrCat("position ", a.position(), " admitted while ", c.choosing.size(),
                       " admitted users had not chosen yet and only ", c.out.stock_left,
                       " units were left: the queue waits while those choosing could take every "
                       "unit left"));
    c.serving = std::max(c.serving, a.position());
    c.out.admitted++;
    const uint64_t rate = c.cfg.admission_rate_per_s();
    if (rate > 0) {
      // Credit only accrues with time: rate x elapsed since creation is
      // the most that may have been admitted by this event's time.
      const uint64_t elapsed = e.time_ms() > c.created_ms ? e.time_ms() - c.created_ms : 0;
      const unsigned __int128 allowed = (unsigned __int128)rate * elapsed / 1000;
      if (c.out.admitted > allowed)
        Bad(c, "admission rate",
            absl::StrCat(c.out.admitted, " admitted by ", elapsed, " ms at ", rate, "/s (at most ",
                         static_cast<uint64_t>(allowed), ")"));
    }
  }

  void OnDrawResolved(Campaign& c, const pb::Event& e) {
    if (c.at_close) return OnDrawAtClose(c, e);
    const auto& d = e.draw_resolved();
    const uint64_t pos = d.position();
    if (pos == 0 || pos > c.serving || pos > c.status.size())
      return Bad(c, "draw order", absl::StrCat("position ", pos, " drawn before admission"));
    if (c.status[pos - 1] != kUndrawn)
      return Bad(c, "draw order", absl::StrCat("position ", pos, " drawn twice"));
    if (c.by_position[pos - 1] == nullptr || *c.by_position[pos - 1] != d.user_id())
      Bad(c, "draw order",
          absl::StrCat("position ", pos, " drawn for user ", d.user_id(),
                       ", who does not hold it"));
    uint64_t value = d.draw_value();
    if (c.have_seed && !c.rederive) {
      uint64_t v = c.drawer.DrawValue(c.out.id, pos, d.user_id());
      c.out.rederived++;
      if (v != value)
        Bad(c, "draw value",
            absl::StrCat("position ", pos, ": logged ", value, ", the seed gives ", v));
      value = v;
    }
    c.values[pos - 1] = d.draw_value();
    const bool under = UnderThreshold(value, c.cfg.win_bps());
    const size_t item = ItemOf(c, pos);
    const uint32_t qty = QtyOf(c, pos);
    ItemAudit& it = c.out.items[item];
    const bool at_entry_items = c.has_items && !c.on_admission;
    if (at_entry_items) {
      if (d.item_id() != it.id || d.quantity() != qty)
        Bad(c, "all or nothing",
            absl::StrCat("position ", pos, " asked for ", Units(qty, c, item), "; its draw names ",
                         d.quantity(), " of ", d.item_id(),
                         ": a request is filled whole or not at all"));
    } else if (!d.item_id().empty() || d.quantity() != 0 || d.item_stock_left() != 0) {
      Bad(c, "item",
          absl::StrCat("position ", pos, "'s draw names item \"", d.item_id(), "\" x", d.quantity(),
                       ", but its entry named none"));
    }
    const bool stock_before = c.out.stock_left > 0;
    const bool item_before = it.stock_left > 0;
    const bool fits = it.stock_left >= qty;
    pb::Outcome want = !under ? pb::OUTCOME_LOST
                       : c.on_admission
                           ? (stock_before ? pb::OUTCOME_ADMITTED : pb::OUTCOME_SOLD_OUT)
                       : fits ? pb::OUTCOME_WON
                              : pb::OUTCOME_SOLD_OUT;
    if (d.outcome() != want) {
      if (at_entry_items && want == pb::OUTCOME_SOLD_OUT && d.outcome() == pb::OUTCOME_WON)
        Bad(c, "all or nothing",
            absl::StrCat("position ", pos, " WON ", Units(qty, c, item), " with only ",
                         it.stock_left,
                         " left: a request that cannot be filled whole is refused (SOLD_OUT), "
                         "never partly filled"));
      else if (at_entry_items && want == pb::OUTCOME_WON && d.outcome() == pb::OUTCOME_SOLD_OUT)
        Bad(c, "all or nothing",
            absl::StrCat("position ", pos, " refused (SOLD_OUT) with ", it.stock_left, " of ",
                         it.id, " left, enough for the ", qty,
                         " it asked for: a refusal while places remained"));
      else
        Bad(c, "outcome",
            absl::StrCat("position ", pos, ": logged ", pb::Outcome_Name(d.outcome()),
                         ", the draw value and stock "
                         "left give ",
                         pb::Outcome_Name(want)));
    }
    const bool won = d.outcome() == pb::OUTCOME_WON;
    const bool admitted = d.outcome() == pb::OUTCOME_ADMITTED;
    if (won) {
      if (c.on_admission)
        Bad(c, "outcome",
            absl::StrCat("position ", pos, " WON in a campaign whose admitted choose an item"));
      if (!stock_before)
        Bad(c, "stock", absl::StrCat("position ", pos, " won after stock ran out"));
      else if (c.has_items && !fits)
        Bad(c, "item stock",
            absl::StrCat("position ", pos, " took ", Units(qty, c, item), " with only ",
                         it.stock_left, " left: oversold"));
      TakeUnits(c, item, qty);
      c.out.won++;
      it.won++;
      c.status[pos - 1] = kWon;
    } else if (admitted) {
      if (!c.on_admission)
        Bad(c, "outcome",
            absl::StrCat("position ", pos,
                         " ADMITTED in a campaign that does not let the "
                         "admitted choose"));
      else
        c.status[pos - 1] = kChoosing;
    } else if (d.outcome() == pb::OUTCOME_SOLD_OUT) {
      c.out.sold_out++;
      it.sold_out++;
      c.status[pos - 1] = kSoldOut;
    } else {
      c.out.lost++;
      c.status[pos - 1] = kLost;
    }
    const uint64_t choose_want = admitted ? e.time_ms() + c.choose_ms : 0;
    if (d.choose_until_ms() != choose_want)
      Bad(c, "choice deadline",
          absl::StrCat("position ", pos, " drawn ", pb::Outcome_Name(d.outcome()),
                       " with choose_until_ms ", d.choose_until_ms(),
                       admitted ? absl::StrCat(", event time ", e.time_ms(), " + choose_s ",
                                               c.cfg.choose_s(), " gives ", choose_want)
                                : std::string(", but only an admission has a deadline")));
    if (admitted && c.on_admission) {
      c.choose_until[pos - 1] = choose_want;
      c.choosing.insert({choose_want, pos});
    }
    if (d.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("position ", pos, ": stock_left logged ", d.stock_left(), ", should be ",
                       c.out.stock_left));
    if (at_entry_items) CheckItemLeft(c, item, d.item_stock_left(), pos, "draw");
    if (d.waitlist_rank() != 0)
      Bad(c, "outcome", absl::StrCat("position ", pos, ": a waitlist rank in an instant draw"));
    CheckHoldUntil(c, e, pos, won, d.hold_until_ms(), "won");
    if (won) StartHold(c, pos, d.hold_until_ms());
    c.out.drawn++;
    // The statistics: draws made while stock remained (per item: while
    // units of the item asked for remained), and every value.
    if (stock_before) {
      c.out.rate.n++;
      c.out.rate.k += under;
    }
    if (at_entry_items && item_before) {
      it.rate.n++;
      it.rate.k += under;
    }
    c.out.uniformity.n++;
    c.out.uniformity.bins[d.draw_value() >> 60]++;
  }

  void OnStockChanged(Campaign& c, const pb::Event& e) {
    const auto& s = e.stock_changed();
    const int named = ItemNamed(c, s.item_id(), "a StockChanged");
    size_t item = named < 0 ? 0 : static_cast<size_t>(named);
    if (s.reason() == pb::STOCK_HOLD_EXPIRED || s.reason() == pb::STOCK_CANCELLATION) {
      const bool expiry = s.reason() == pb::STOCK_HOLD_EXPIRED;
      if (c.stock_due == 0 || c.stock_due_reason != s.reason()) {
        Bad(c, expiry ? "hold expiry" : "cancellation",
            absl::StrCat("a StockChanged ", pb::StockReason_Name(s.reason()), " that follows no ",
                         expiry ? "HoldExpired" : "EntryCancelled"));
      } else {
        const uint64_t q = QtyOf(c, c.stock_due);
        const size_t owed = ItemOf(c, c.stock_due);
        if (s.delta() != static_cast<int64_t>(q) || (named >= 0 && item != owed))
          Bad(c, expiry ? "hold expiry" : "cancellation",
              absl::StrCat("position ", c.stock_due, "'s ", q == 1 ? "unit" : "units",
                           " came back as ", s.delta(), " units",
                           c.has_items ? absl::StrCat(" of ", s.item_id()) : std::string(),
                           ", not ", Units(q, c, owed),
                           ": a give-back or expiry returns exactly the units taken"));
        if (named < 0) item = owed;
      }
      c.stock_due = 0;
    }
    ItemAudit& it = c.out.items[item];
    if (s.delta() < 0 && static_cast<uint64_t>(-s.delta()) > c.out.stock_left)
      Bad(c, "stock", "stock would go negative");
    if (c.has_items && s.delta() < 0 && static_cast<uint64_t>(-s.delta()) > it.stock_left)
      Bad(c, "item stock", absl::StrCat("units of ", it.id, " would go negative"));
    c.out.stock_left = static_cast<uint64_t>(static_cast<int64_t>(c.out.stock_left) + s.delta());
    it.stock_left = static_cast<uint64_t>(static_cast<int64_t>(it.stock_left) + s.delta());
    if (s.delta() > 0) {
      c.returned += s.delta();
      c.item_returned[item] += s.delta();
    }
    if (s.reason() == pb::STOCK_RESTOCK) {
      c.out.restocked += s.delta();
      it.restocked += s.delta();
    }
    if (s.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("stock_left logged ", s.stock_left(), ", should be ", c.out.stock_left));
    if (c.has_items)
      CheckItemLeft(c, item, s.item_stock_left(), 0, "a StockChanged");
    else if (s.item_stock_left() != 0)
      Bad(c, "item", "a StockChanged with item_stock_left in a campaign without items");
    if (c.units_taken - std::min(c.units_taken, c.units_returned) > c.out.stock + c.out.restocked)
      Bad(c, "stock", "wins minus cancellations and expiries exceed stock plus restocks");
  }

  void OnCancelled(Campaign& c, const pb::Event& e) {
    const uint64_t pos = e.entry_cancelled().position();
    if (pos == 0 || pos > c.status.size() || c.status[pos - 1] != kWon)
      return Bad(c, "cancellation",
                 absl::StrCat("position ", pos, " cancelled but not a standing win (",
                              pos == 0 || pos > c.status.size() ? "never entered"
                                                                : StatusWord(c.status[pos - 1]),
                              ")"));
    EndLiveHold(c, e, pos, "cancellation", "given back");
    c.status[pos - 1] = kCancelled;
    c.out.cancelled++;
    c.units_returned += QtyOf(c, pos);
    c.out.items[ItemOf(c, pos)].returned += QtyOf(c, pos);
    c.stock_due = pos;
    c.stock_due_reason = pb::STOCK_CANCELLATION;
  }

  // ---- holds ---------------------------------------------------------------

  // The hold deadline of a standing win at `pos`; 0: final (no hold).
  static uint64_t Deadline(const Campaign& c, uint64_t pos) {
    return c.hold_until.empty() ? 0 : c.hold_until[pos - 1];
  }

  // hold_until_ms == event time + hold_s on a win (0 when hold_s is 0 and on
  // anything else).
  void CheckHoldUntil(Campaign& c, const pb::Event& e, uint64_t pos, bool won, uint64_t logged,
                      const char* what) {
    const uint64_t want = won && c.hold_ms > 0 ? e.time_ms() + c.hold_ms : 0;
    if (logged != want)
      Bad(c, "hold deadline",
          absl::StrCat("position ", pos, " ", what, " with hold_until_ms ", logged,
                       won ? absl::StrCat(", event time ", e.time_ms(), " + hold_s ",
                                          c.cfg.hold_s(), " gives ", want)
                           : std::string(", but only a win holds a unit")));
  }

  void StartHold(Campaign& c, uint64_t pos, uint64_t deadline) {
    if (c.hold_until.empty() || deadline == 0) return;
    c.hold_until[pos - 1] = deadline;
    c.live.insert({deadline, pos});
  }

  // A give-back or confirmation ends the hold of `pos`, which must still be
  // live at the event's time.
  void EndLiveHold(Campaign& c, const pb::Event& e, uint64_t pos, const char* check,
                   const char* verb) {
    const uint64_t deadline = Deadline(c, pos);
    if (deadline != 0 && e.time_ms() >= deadline)
      Bad(c, check,
          absl::StrCat("position ", pos, " ", verb, " at ", e.time_ms(),
                       ", after its hold expired at ", deadline));
    EndHold(c, pos);
  }

  void EndHold(Campaign& c, uint64_t pos) {
    const uint64_t deadline = Deadline(c, pos);
    if (deadline != 0) c.live.erase({deadline, pos});
  }

  // The user an event names for `pos`, against the one who holds it.
  bool Holder(Campaign& c, const char* check, uint64_t pos, const std::string& user,
              const char* what) {
    if (pos == 0 || pos > c.status.size() || c.by_position[pos - 1] == nullptr) {
      Bad(c, check, absl::StrCat("position ", pos, " ", what, " but never entered"));
      return false;
    }
    if (*c.by_position[pos - 1] != user)
      Bad(c, check,
          absl::StrCat("position ", pos, " ", what, " for user ", user, ", who does not hold it"));
    return true;
  }

  void OnConfirmed(Campaign& c, const pb::Event& e) {
    const auto& x = e.entry_confirmed();
    const uint64_t pos = x.position();
    if (!Holder(c, "confirmation", pos, x.user_id(), "confirmed")) return;
    c.confirmed_checked++;
    const std::string pass = absl::StrCat(c.out.id, ":", pos);
    if (x.pass_id() != pass)
      Bad(c, "confirmation",
          absl::StrCat("position ", pos, " confirmed with pass \"", x.pass_id(),
                       "\", not its own pass \"", pass, "\""));
    const uint8_t st = c.status[pos - 1];
    if (st != kWon)
      return Bad(c, "confirmation",
                 absl::StrCat("position ", pos, " confirmed but it is ", StatusWord(st),
                              st == kExpired ? ": a confirmation after its hold expired" : ""));
    EndLiveHold(c, e, pos, "confirmation", "confirmed");
    c.status[pos - 1] = kConfirmed;
    c.out.confirmed++;
    if (c.out.confirmed > c.out.won - c.out.cancelled - c.out.expired)
      Bad(c, "stock",
          absl::StrCat(c.out.confirmed, " confirmed, more than the ", c.out.won, " won less ",
                       c.out.cancelled, " given back and ", c.out.expired, " expired"));
    ItemAudit& it = c.out.items[ItemOf(c, pos)];
    c.units_confirmed += QtyOf(c, pos);
    it.confirmed += QtyOf(c, pos);
    if (c.units_confirmed > c.out.stock + c.out.restocked)
      Bad(c, "stock",
          absl::StrCat(c.units_confirmed, " units confirmed, more than stock ", c.out.stock,
                       " plus restocked ", c.out.restocked));
    if (c.has_items && it.confirmed > it.taken - std::min(it.taken, it.returned))
      Bad(c, "item stock",
          absl::StrCat(it.confirmed, " units of ", it.id, " confirmed, more than the ", it.taken,
                       " taken less ", it.returned, " returned"));
  }

  void OnHoldExpired(Campaign& c, const pb::Event& e) {
    const auto& x = e.hold_expired();
    const uint64_t pos = x.position();
    if (!Holder(c, "hold expiry", pos, x.user_id(), "expired")) return;
    c.expiries_checked++;
    const uint8_t st = c.status[pos - 1];
    const uint64_t deadline = Deadline(c, pos);
    if (st != kWon || deadline == 0)
      return Bad(c, "hold expiry",
                 absl::StrCat("position ", pos, " expired but it is ",
                              st == kWon ? "a final win (no hold)" : StatusWord(st)));
    if (x.hold_until_ms() != deadline)
      Bad(c, "hold expiry",
          absl::StrCat("position ", pos, ": HoldExpired names the deadline ", x.hold_until_ms(),
                       ", its win held until ", deadline));
    if (e.time_ms() < deadline)
      Bad(c, "hold expiry",
          absl::StrCat("position ", pos, " expired at ", e.time_ms(), ", before its deadline ",
                       deadline));
    const auto [head_deadline, head] = c.live.empty() ? std::pair{deadline, pos} : *c.live.begin();
    if (head != pos)
      Bad(c, "expiry order",
          absl::StrCat("position ", pos, " (deadline ", deadline, ") expired while position ", head,
                       " (deadline ", head_deadline,
                       ") still held: expiries go in (deadline, position) order"));
    EndHold(c, pos);
    c.status[pos - 1] = kExpired;
    c.out.expired++;
    c.units_returned += QtyOf(c, pos);
    c.out.items[ItemOf(c, pos)].returned += QtyOf(c, pos);
    c.stock_due = pos;
    c.stock_due_reason = pb::STOCK_HOLD_EXPIRED;
  }

  void OnPromoted(Campaign& c, const pb::Event& e) {
    const auto& x = e.entry_promoted();
    const uint64_t pos = x.position();
    if (!c.close_drawn)
      return Bad(c, "promotion",
                 absl::StrCat("position ", pos, " promoted in a campaign ",
                              c.at_close ? "not drawn yet" : "that does not draw at close"));
    if (!Holder(c, "promotion", pos, x.user_id(), "promoted")) return;
    const size_t item = ItemOf(c, pos);
    const uint32_t qty = QtyOf(c, pos);
    ItemAudit& it = c.out.items[item];
    if (c.has_items ? (x.item_id() != it.id || x.quantity() != qty)
                    : (!x.item_id().empty() || x.quantity() != 0 || x.item_stock_left() != 0))
      Bad(c, "promotion",
          absl::StrCat("position ", pos, " promoted for ", x.quantity(), " of \"", x.item_id(),
                       "\"; its entry asked for ", Units(qty, c, item)));
    const std::vector<uint64_t>& waitlist = c.item_waitlist[item];
    const std::string of = c.has_items ? absl::StrCat(" of ", it.id) : std::string();
    const uint64_t head_rank = it.promoted + 1;
    if (head_rank > waitlist.size()) {
      Bad(c, "promotion order",
          absl::StrCat("position ", pos, " promoted (rank ", x.waitlist_rank(),
                       "), but the waitlist", of, " is empty"));
    } else if (x.waitlist_rank() != head_rank || waitlist[head_rank - 1] != pos) {
      Bad(c, "promotion order",
          absl::StrCat("position ", pos, " promoted as waitlist rank ", x.waitlist_rank(),
                       ", but the head of the waitlist", of, " is position ",
                       waitlist[head_rank - 1], " (rank ", head_rank, ")"));
    }
    const uint8_t st = c.status[pos - 1];
    // Reported, then counted as the promotion it claims to be, so that one
    // wrong event does not make every later one look wrong too.
    if (st != kWaitlisted)
      Bad(c, "promotion", absl::StrCat("position ", pos, " promoted but it is ", StatusWord(st)));
    if (st == kWon) EndHold(c, pos);
    // Units of the item came back in this answer (with items, a head that
    // did not fit before may take them with units left over from earlier).
    if (c.item_returned[item] <= 0)
      Bad(c, "promotion",
          absl::StrCat("position ", pos, " promoted without a unit", of,
                       " returned (given back, expired or "
                       "restocked) earlier in the same answer"));
    else if (!c.has_items)
      c.item_returned[item]--;  // one unit per promotion
    if (!c.has_items && c.out.stock_left == 0)
      Bad(c, "stock", absl::StrCat("position ", pos, " promoted with no stock left"));
    else if (it.stock_left < qty)
      Bad(c, "promotion",
          absl::StrCat("position ", pos, " promoted for ", Units(qty, c, item), " with only ",
                       it.stock_left,
                       " left: the head is promoted only when its whole quantity fits"));
    TakeUnits(c, item, qty);
    if (x.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("position ", pos, " promoted: stock_left logged ", x.stock_left(),
                       ", should be ", c.out.stock_left));
    CheckItemLeft(c, item, x.item_stock_left(), pos, "promotion");
    CheckHoldUntil(c, e, pos, true, x.hold_until_ms(), "promoted");
    StartHold(c, pos, x.hold_until_ms());
    c.status[pos - 1] = kWon;
    c.out.won++;
    c.out.promoted++;
    it.won++;
    it.promoted++;
  }

  // ---- choosing on admission -----------------------------------------------

  void OnChosen(Campaign& c, const pb::Event& e) {
    const auto& x = e.item_chosen();
    const uint64_t pos = x.position();
    if (!c.on_admission)
      return Bad(
          c, "choice",
          absl::StrCat("position ", pos,
                       " chose an item, but this campaign does not let the admitted choose"));
    if (!Holder(c, "choice", pos, x.user_id(), "chose")) return;
    const uint8_t st = c.status[pos - 1];
    if (st != kChoosing)
      return Bad(c, "choice",
                 absl::StrCat("position ", pos, " chose but it is ", StatusWord(st),
                              st == kChoiceLapsed ? ": a choice after its deadline"
                              : st == kWon || st == kConfirmed || st == kCancelled || st == kExpired
                                  ? ": one choice per admission"
                                  : ": only the admitted choose"));
    const uint64_t deadline = c.choose_until[pos - 1];
    if (e.time_ms() >= deadline)
      Bad(c, "choice deadline",
          absl::StrCat("position ", pos, " chose at ", e.time_ms(), ", at or after its deadline ",
                       deadline, ": a choice after its deadline"));
    c.choosing.erase({deadline, pos});
    c.status[pos - 1] = kWon;
    c.out.chosen++;
    c.out.won++;
    const std::string what = absl::StrCat("position ", pos, "'s choice");
    const int named = ItemNamed(c, x.item_id(), what);
    if (named < 0) return;
    const size_t item = static_cast<size_t>(named);
    const uint32_t qty = x.quantity() == 0 ? 1 : x.quantity();
    c.item_of[pos - 1] = static_cast<uint16_t>(item);
    c.qty_of[pos - 1] = qty;
    CheckQuantity(c, item, qty, what);
    ItemAudit& it = c.out.items[item];
    if (it.stock_left < qty)
      Bad(c, "choice",
          absl::StrCat("position ", pos, " chose ", Units(qty, c, item), " with only ",
                       it.stock_left, " left: oversold"));
    TakeUnits(c, item, qty);
    it.won++;
    if (x.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat(what, ": stock_left logged ", x.stock_left(), ", should be ",
                       c.out.stock_left));
    CheckItemLeft(c, item, x.item_stock_left(), pos, "choice");
    CheckHoldUntil(c, e, pos, true, x.hold_until_ms(), "chose");
    StartHold(c, pos, x.hold_until_ms());
  }

  void OnChoiceExpired(Campaign& c, const pb::Event& e) {
    const auto& x = e.choice_expired();
    const uint64_t pos = x.position();
    if (!Holder(c, "choice expiry", pos, x.user_id(), "let its choice expire")) return;
    const uint8_t st = c.status[pos - 1];
    if (st != kChoosing)
      return Bad(c, "choice expiry",
                 absl::StrCat("position ", pos, "'s choice expired but it is ", StatusWord(st)));
    const uint64_t deadline = c.choose_until[pos - 1];
    if (x.choose_until_ms() != deadline)
      Bad(c, "choice expiry",
          absl::StrCat("position ", pos, ": ChoiceExpired names the deadline ", x.choose_until_ms(),
                       ", its admission's is ", deadline));
    if (e.time_ms() < deadline)
      Bad(c, "choice expiry",
          absl::StrCat("position ", pos, "'s choice expired at ", e.time_ms(),
                       ", before its deadline ", deadline));
    const auto [head_deadline, head] = *c.choosing.begin();
    if (head != pos)
      Bad(c, "choice expiry order",
          absl::StrCat("position ", pos, " (deadline ", deadline, ") expired while position ", head,
                       " (deadline ", head_deadline,
                       ") still chose: expiries go in (deadline, position) order"));
    c.choosing.erase({deadline, pos});
    c.status[pos - 1] = kChoiceLapsed;
    c.out.choices_expired++;
  }

  // REJECT_ITEM_FULL: only to an admitted user still choosing, and only when
  // fewer units of the item were left than asked. The rejection names the
  // item, the quantity and the units left (EntryRejected.item_id, quantity,
  // item_stock_left); the units left are checked against those counted here.
  void OnRejected(Campaign& c, const pb::Event& e) {
    const auto& r = e.entry_rejected();
    if (!c.created || r.reason() != pb::REJECT_ITEM_FULL) return;
    c.out.item_full_refusals++;
    auto found = c.position_of.find(r.user_id());
    const uint64_t pos = found == c.position_of.end() ? 0 : found->second;
    if (!c.on_admission || pos == 0 || pos > c.status.size() || c.status[pos - 1] != kChoosing ||
        e.time_ms() >= c.choose_until[pos - 1])
      return Bad(c, "item full",
                 absl::StrCat("user ", r.user_id(),
                              " refused ITEM_FULL, but is not an admitted user choosing before "
                              "the deadline"));
    const uint64_t qty = r.quantity(), left = r.item_stock_left();
    auto it = c.item_index.find(r.item_id());
    if (it == c.item_index.end() || qty == 0) {
      c.item_full_unparsed++;
      return;
    }
    const ItemAudit& item = c.out.items[it->second];
    if (left != item.stock_left)
      Bad(c, "item full",
          absl::StrCat("user ", r.user_id(), " (position ", pos, ") refused ITEM_FULL with ", left,
                       " of ", item.id, " said to be left; the ledger leaves ", item.stock_left));
    if (item.stock_left >= qty)
      Bad(c, "item full",
          absl::StrCat("user ", r.user_id(), " (position ", pos, ") refused ITEM_FULL for ", qty,
                       " of ", item.id, " while ", item.stock_left,
                       " were left: a refusal while places remained"));
  }

  // ---- answers -------------------------------------------------------------

  // Before every event of a created campaign: ends the answer before it when
  // a new one starts; checks that a returned unit's StockChanged comes next
  // and that no hold outlives its deadline (the engine expires due holds at
  // the start of every answer: the first event at or after a deadline that
  // changes anything must come after the expiry).
  void Sequence(Campaign& c, const pb::Event& e) {
    if (c.in_answer && (e.command_events() > 0 || e.command_offset() != c.answer_offset))
      EndAnswer(c);
    if (!c.in_answer) {
      c.in_answer = true;
      c.answer_offset = e.command_offset();
      c.returned = 0;
      std::fill(c.item_returned.begin(), c.item_returned.end(), 0);
    }
    if (c.stock_due != 0 &&
        !(e.has_stock_changed() && e.stock_changed().reason() == c.stock_due_reason))
      StockNotReturned(c);
    // A rejection changes nothing, and some are decided before any expiry
    // (an Idempotency-Key reused, a CreateCampaign for a taken id).
    const bool expiring =
        e.has_hold_expired() || e.has_entry_promoted() || e.has_entry_rejected() ||
        (e.has_stock_changed() && e.stock_changed().reason() == pb::STOCK_HOLD_EXPIRED);
    if (!expiring && !c.live.empty() && c.live.begin()->first <= e.time_ms()) {
      const auto [deadline, pos] = *c.live.begin();
      if (c.late_listed.insert(pos).second)
        Bad(c, "hold expiry",
            absl::StrCat("position ", pos, "'s hold until ", deadline, " is still live at ",
                         e.time_ms(),
                         ": the first event at or after a deadline must expire the hold first"));
    }
    // The engine ends due choices right after the due holds.
    const bool ending = expiring || e.has_choice_expired() || e.has_stock_changed();
    if (!ending && !c.choosing.empty() && c.choosing.begin()->first <= e.time_ms()) {
      const auto [deadline, pos] = *c.choosing.begin();
      if (c.late_choice_listed.insert(pos).second)
        Bad(c, "choice expiry",
            absl::StrCat("position ", pos, "'s time to choose until ", deadline,
                         " is still open at ", e.time_ms(),
                         ": the first event at or after a deadline must end the admission first"));
    }
  }

  void StockNotReturned(Campaign& c) {
    const bool expiry = c.stock_due_reason == pb::STOCK_HOLD_EXPIRED;
    Bad(c, expiry ? "hold expiry" : "cancellation",
        absl::StrCat("position ", c.stock_due, expiry ? " expired" : " given back",
                     " without the StockChanged +1 that must follow at once"));
    c.stock_due = 0;
  }

  // The end of one command's answer (findings point at its last event).
  void EndAnswer(Campaign& c) {
    const int partition = partition_;
    const uint64_t offset = offset_, sequence = sequence_;
    partition_ = c.last_partition;
    offset_ = c.last_offset;
    sequence_ = c.last_sequence;
    if (c.stock_due != 0) StockNotReturned(c);
    if (c.close_pending) CloseAnswer(c);
    for (size_t i = 0; c.close_drawn && i < c.out.items.size(); ++i) {
      const ItemAudit& it = c.out.items[i];
      const std::vector<uint64_t>& waitlist = c.item_waitlist[i];
      if (it.promoted >= waitlist.size() || it.stock_left == 0 ||
          it.stock_left < QtyOf(c, waitlist[it.promoted]) || c.item_owed_listed[i] == it.promoted)
        continue;
      c.item_owed_listed[i] = it.promoted;  // once per head left unpromoted
      Bad(c, "promotion",
          absl::StrCat("the answer ends with ", it.stock_left, " unit(s)",
                       c.has_items ? absl::StrCat(" of ", it.id) : std::string(), " in stock and ",
                       waitlist.size() - it.promoted,
                       " waiting: the head of the waitlist, position ", waitlist[it.promoted],
                       ", was not promoted"));
    }
    // In units (one per entry without items).
    const int64_t imbalance =
        static_cast<int64_t>(c.out.stock_left + c.units_taken) -
        static_cast<int64_t>(c.out.stock + c.out.restocked + c.units_returned);
    if (imbalance != c.imbalance) {
      c.imbalance = imbalance;
      if (imbalance != 0)
        Bad(c, "stock balance",
            c.has_items
                ? absl::StrCat("stock left ", c.out.stock_left, " + units taken ", c.units_taken,
                               " - returned ", c.units_returned, " is not stock ", c.out.stock,
                               " + restocked ", c.out.restocked)
                : absl::StrCat("stock left ", c.out.stock_left, " + won ", c.out.won,
                               " - given back ", c.out.cancelled, " - expired ", c.out.expired,
                               " is not stock ", c.out.stock, " + restocked ", c.out.restocked));
    }
    uint64_t sum = 0;
    for (size_t i = 0; c.has_items && i < c.out.items.size(); ++i) {
      const ItemAudit& it = c.out.items[i];
      sum += it.stock_left;
      const int64_t d = static_cast<int64_t>(it.stock_left + it.taken) -
                        static_cast<int64_t>(it.stock + it.restocked + it.returned);
      if (d == c.item_imbalance[i]) continue;
      c.item_imbalance[i] = d;
      if (d != 0)
        Bad(c, "item balance",
            absl::StrCat("item ", it.id, ": stock left ", it.stock_left, " + taken ", it.taken,
                         " - returned ", it.returned, " is not stock ", it.stock, " + restocked ",
                         it.restocked));
    }
    if (c.has_items && sum != c.out.stock_left && c.imbalance == 0)
      Bad(c, "item balance",
          absl::StrCat("the items' units left add up to ", sum, ", the campaign's stock left is ",
                       c.out.stock_left));
    c.in_answer = false;
    partition_ = partition;
    offset_ = offset;
    sequence_ = sequence;
  }

  // ---- the close -----------------------------------------------------------

  void OnClosed(Campaign& c, const pb::Event& e) {
    const auto& x = e.campaign_closed();
    if (c.out.closed) return Bad(c, "after close", "closed twice");
    c.out.closed = true;
    CheckMerkle(c, x);
    const bool committed = !c.cfg.entropy_source().empty();
    if (committed && x.entropy_value().empty())
      Bad(c, "entropy",
          absl::StrCat("closed without the value of the entropy source it committed to (\"",
                       c.cfg.entropy_source(), "\")"));
    else if (!committed && !x.entropy_value().empty())
      Bad(c, "entropy", "closed with an entropy value, but the campaign committed to no source");
    else if (x.entropy_value().size() > 256)
      Bad(c, "entropy",
          absl::StrCat("entropy value of ", x.entropy_value().size(), " bytes (at most 256)"));
    if (!c.at_close) return;
    c.close_pending = true;
    c.entropy = x.entropy_value();
    c.close_stock = c.out.stock_left;
    c.close_item_left.clear();
    for (const ItemAudit& it : c.out.items) c.close_item_left.push_back(it.stock_left);
    c.close_result.assign(c.out.entries, kCloseLost);
  }

  // CampaignClosed.merkle_root against the tree over the QueueEntered events.
  void CheckMerkle(Campaign& c, const pb::CampaignClosed& x) {
    if (x.merkle_root().empty()) {
      c.out.merkle = "not in this ledger (written before CampaignClosed.merkle_root)";
      c.out.not_checked.push_back(
          "Merkle root: CampaignClosed carries none (a ledger from before receipts)");
      return;
    }
    const uint64_t n = x.merkle_leaves();
    if (n != c.out.entries)
      Bad(c, "merkle root",
          absl::StrCat("merkle_leaves is ", n, ", but ", c.out.entries,
                       " positions entered before the close"));
    for (uint64_t i = 0; i < n; ++i) {
      if (i >= c.by_position.size() || c.by_position[i] == nullptr) {
        c.out.merkle = "could not be recomputed";
        return Bad(c, "merkle root",
                   absl::StrCat("cannot be recomputed: position ", i + 1, " of ", n,
                                " has no QueueEntered event"));
      }
    }
    const Hash root = MerkleRoot(n, [&c](uint64_t i) {
      return MerkleLeafHash(MerkleLeaf(i + 1, c.entry_ms[i], *c.by_position[i]));
    });
    if (x.merkle_root() != std::string(root.begin(), root.end())) {
      c.out.merkle = "DIFFERS from the QueueEntered events";
      return Bad(c, "merkle root",
                 absl::StrCat("CampaignClosed.merkle_root is ", ToHex(x.merkle_root()), ", the ", n,
                              " QueueEntered events (position, time_ms, user) give ", ToHex(root)));
    }
    c.merkle_checked = true;
    c.out.merkle = absl::StrCat("matches the ", n, " QueueEntered events (RFC 9162 tree)");
  }

  // One DrawResolved of the close's answer: recorded here, checked as a
  // whole at the answer's end (CloseAnswer).
  void OnDrawAtClose(Campaign& c, const pb::Event& e) {
    const auto& d = e.draw_resolved();
    const uint64_t pos = d.position();
    if (!c.close_pending)
      return Bad(c, "at-close draw",
                 absl::StrCat("position ", pos, " drawn outside the answer to the close"));
    if (pos != c.close_draws + 1 || pos > c.close_result.size())
      return Bad(c, "at-close draw",
                 absl::StrCat("position ", pos, " drawn after position ", c.close_draws, " of ",
                              c.close_result.size(),
                              ": the close draws every position once, in position order"));
    c.close_draws = pos;
    if (c.by_position[pos - 1] == nullptr || *c.by_position[pos - 1] != d.user_id())
      Bad(c, "draw order",
          absl::StrCat("position ", pos, " drawn for user ", d.user_id(),
                       ", who does not hold it"));
    c.values[pos - 1] = d.draw_value();
    c.serving = pos;
    const bool won = d.outcome() == pb::OUTCOME_WON;
    const size_t item = ItemOf(c, pos);
    const uint32_t qty = QtyOf(c, pos);
    ItemAudit& it = c.out.items[item];
    if (c.has_items ? (d.item_id() != it.id || d.quantity() != qty)
                    : (!d.item_id().empty() || d.quantity() != 0))
      Bad(c, "all or nothing",
          absl::StrCat("position ", pos, " asked for ", Units(qty, c, item), "; its draw names ",
                       d.quantity(), " of \"", d.item_id(), "\""));
    it.rate.n++;
    it.rate.k += UnderThreshold(d.draw_value(), c.cfg.win_bps());
    if (d.outcome() != pb::OUTCOME_WAITLISTED && d.waitlist_rank() != 0)
      Bad(c, "at-close draw",
          absl::StrCat("position ", pos, ": a waitlist rank on a ", pb::Outcome_Name(d.outcome()),
                       " outcome"));
    switch (d.outcome()) {
      case pb::OUTCOME_WON:
        if (c.out.stock_left == 0)
          Bad(c, "stock", absl::StrCat("position ", pos, " won at close after stock ran out"));
        else if (it.stock_left < qty)
          Bad(c, "item stock",
              absl::StrCat("position ", pos, " won ", Units(qty, c, item), " at close with only ",
                           it.stock_left, " left: oversold"));
        TakeUnits(c, item, qty);
        c.out.won++;
        it.won++;
        c.status[pos - 1] = kWon;
        c.close_result[pos - 1] = kCloseWon;
        break;
      case pb::OUTCOME_WAITLISTED:
        if (d.waitlist_rank() == 0)
          Bad(c, "at-close draw", absl::StrCat("position ", pos, ": WAITLISTED without a rank"));
        c.out.waitlisted++;
        it.waitlisted++;
        c.status[pos - 1] = kWaitlisted;
        c.close_result[pos - 1] = d.waitlist_rank();
        break;
      default:
        if (d.outcome() != pb::OUTCOME_LOST)
          Bad(c, "at-close draw",
              absl::StrCat("position ", pos, ": ", pb::Outcome_Name(d.outcome()),
                           " is not an at-close outcome"));
        c.out.lost++;
        c.status[pos - 1] = kLost;
        break;
    }
    if (d.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("position ", pos, ": stock_left logged ", d.stock_left(), ", should be ",
                       c.out.stock_left));
    CheckItemLeft(c, item, d.item_stock_left(), pos, "draw at close");
    CheckHoldUntil(c, e, pos, won, d.hold_until_ms(), "won at close");
    if (won) StartHold(c, pos, d.hold_until_ms());
    c.out.drawn++;
    c.out.rate.n++;
    c.out.rate.k += UnderThreshold(d.draw_value(), c.cfg.win_bps());
    c.out.uniformity.n++;
    c.out.uniformity.bins[d.draw_value() >> 60]++;
  }

  // The end of the close's answer: every position drawn, the values (from
  // the seed and the entropy value when the seed is known), the selection
  // and waitlist order, and the arrival-order statistic.
  void CloseAnswer(Campaign& c) {
    c.close_pending = false;
    c.close_drawn = true;
    const uint64_t n = c.close_result.size();
    if (c.close_draws != n)
      Bad(c, "at-close draw",
          absl::StrCat(c.close_draws, " of ", n, " positions drawn at close: position ",
                       c.close_draws + 1, " never drawn"));
    std::vector<uint64_t> values(c.values.begin(), c.values.begin() + n);
    if (c.have_seed && !c.rederive) DeriveAtClose(c, &values);
    Select(c, values, /*keep_waitlist=*/true);
    ArrivalTest& t = c.out.arrival;
    t.n = n;
    for (uint64_t pos = 1; pos <= n; ++pos) {
      const uint64_t d = (pos - 1) * 10 / n;
      t.size[d]++;
      if (c.close_result[pos - 1] == kCloseWon) {
        t.won[d]++;
        t.wins++;
      }
    }
    ArrivalChiSquare(&t);
    // Pearson's approximation wants every expected count >= 5.
    const double rate = n ? double(t.wins) / n : 0;
    t.tested = n > 0 && t.wins > 0 && t.wins < n;
    for (uint64_t sz : t.size) t.tested = t.tested && sz * rate >= 5 && sz * (1 - rate) >= 5;
  }

  // Re-derives every at-close value (key AtCloseKey(seed, entropy)) into
  // *values, naming each that differs from the logged one; returns how many.
  uint64_t DeriveAtClose(Campaign& c, std::vector<uint64_t>* values) {
    const Drawer d(AtCloseKey(c.seed, !c.cfg.entropy_source().empty(), c.entropy));
    uint64_t differ = 0;
    for (uint64_t pos = 1; pos <= values->size(); ++pos) {
      if (c.by_position[pos - 1] == nullptr) continue;
      const uint64_t v = d.DrawValue(c.out.id, pos, *c.by_position[pos - 1]);
      if (c.status[pos - 1] != kUndrawn) {
        c.out.rederived++;
        if (v != (*values)[pos - 1]) {
          differ++;
          Bad(c, "draw value",
              absl::StrCat("position ", pos, " (at close): logged ", (*values)[pos - 1],
                           ", the seed and the entropy value give ", v));
        }
      }
      (*values)[pos - 1] = v;
    }
    return differ;
  }

  // The at-close rule over `values` (engine/core/draw.h): the eligible
  // entries by (value, position), the first `stock left at close` win, the
  // others wait in that order, the rest lose. Names every position whose
  // logged outcome or rank differs.
  void Select(Campaign& c, const std::vector<uint64_t>& values, bool keep_waitlist) {
    const uint64_t n = values.size();
    std::vector<std::pair<uint64_t, uint64_t>> eligible;  // (value, position)
    for (uint64_t pos = 1; pos <= n; ++pos)
      if (UnderThreshold(values[pos - 1], c.cfg.win_bps()))
        eligible.push_back({values[pos - 1], pos});
    std::sort(eligible.begin(), eligible.end());
    // Per item, in (value, position) order: a win while the whole quantity
    // fits, else the next place on that item's waitlist.
    std::vector<uint64_t> left = c.close_item_left, waiting(left.size(), 0);
    std::vector<uint64_t> last_won(left.size(), 0);
    std::vector<std::vector<uint64_t>> waitlists(left.size());
    std::vector<uint64_t> want(n, kCloseLost);
    uint64_t winners = 0;
    for (const auto& [value, pos] : eligible) {
      const size_t item = ItemOf(c, pos);
      const uint32_t qty = QtyOf(c, pos);
      if (left[item] >= qty) {
        left[item] -= qty;
        want[pos - 1] = kCloseWon;
        last_won[item] = value;
        winners++;
      } else {
        want[pos - 1] = ++waiting[item];
        waitlists[item].push_back(pos);
      }
    }
    for (uint64_t pos = 1; pos <= n; ++pos) {
      if (pos > c.close_draws || want[pos - 1] == c.close_result[pos - 1]) continue;
      std::string why;
      const size_t item = ItemOf(c, pos);
      if (c.close_result[pos - 1] == kCloseWon && want[pos - 1] != kCloseWon)
        why = c.has_items
                  ? absl::StrCat(": its value ", values[pos - 1],
                                 " is not among the smallest eligible values of item ",
                                 c.out.items[item].id, " whose whole quantities fit (",
                                 QtyOf(c, pos), " asked for)")
                  : absl::StrCat(": its value ", values[pos - 1], " is not among the ", winners,
                                 " smallest eligible values (the largest winning value is ",
                                 last_won[item], ")");
      Bad(c, "at-close draw",
          absl::StrCat("position ", pos, ": logged ", CloseWord(c.close_result[pos - 1]),
                       ", the at-close rule gives ", CloseWord(want[pos - 1]), why));
    }
    if (keep_waitlist) c.item_waitlist = std::move(waitlists);
  }

  void OnSeedRevealed(Campaign& c, const pb::Event& e) {
    const std::string& s = e.seed_revealed().seed();
    if (!c.out.closed) Bad(c, "seed", "revealed before the close");
    if (c.serving < c.out.entries) Bad(c, "seed", "revealed while positions waited to be drawn");
    Hash h = Sha256(s);
    if (s.size() != 32 || std::string(h.begin(), h.end()) != c.commitment)
      return Bad(c, "seed",
                 "SHA-256 of the revealed seed is not the commitment in CampaignCreated");
    c.revealed = true;
    if (c.have_seed) return;
    // Every draw so far is re-derived now; later draws online.
    Seed seed;
    std::copy(s.begin(), s.end(), seed.begin());
    c.drawer = Drawer(seed);
    c.seed = seed;
    c.have_seed = true;
    c.out.seed = "revealed; SHA-256 matches the commitment";
    RederiveLater(c);
    if (!c.rederive) Rederive(c, /*by_redecide=*/false);
  }

  // With the re-decide running, the draws are re-derived in Finish, from
  // the event that gave the seed on (findings point there).
  void RederiveLater(Campaign& c) {
    if (!rederive_later_) return;
    c.rederive = true;
    c.seed_offset = offset_;
    c.seed_sequence = sequence_;
  }

  // Re-derives every draw so far (later ones are re-derived as they come);
  // `by_redecide`: the re-decide already did, and its ledger is this one.
  void Rederive(Campaign& c, bool by_redecide) {
    if (c.at_close) {
      c.rederive = false;
      if (!c.close_drawn) return;
      if (by_redecide) {
        c.out.rederived += c.close_draws;
        return;
      }
      std::vector<uint64_t> values(c.values.begin(), c.values.begin() + c.close_result.size());
      if (DeriveAtClose(c, &values) > 0) Select(c, values, /*keep_waitlist=*/false);
      return;
    }
    for (uint64_t pos = 1; pos <= c.status.size(); ++pos) {
      if (c.status[pos - 1] == kUndrawn || c.by_position[pos - 1] == nullptr) continue;
      c.out.rederived++;
      if (by_redecide) continue;
      uint64_t v = c.drawer.DrawValue(c.out.id, pos, *c.by_position[pos - 1]);
      if (v != c.values[pos - 1])
        Bad(c, "draw value",
            absl::StrCat("position ", pos, ": logged ", c.values[pos - 1], ", the seed gives ", v));
    }
    c.rederive = false;
  }

  // The hold, at-close and receipt checks made, in words with their counts.
  static void Describe(Campaign& c) {
    CampaignAudit& a = c.out;
    std::vector<std::string>& k = a.checks;
    k.push_back(
        "stock balance: after every answer, stock left + won - given back - expired = stock + "
        "restocked; stock never negative; confirmed <= stock + restocked");
    if (a.hold_s > 0 || c.confirmed_checked > 0 || c.expiries_checked > 0)
      k.push_back(absl::StrCat("holds (hold_s ", a.hold_s,
                               "): every won unit confirmed, given back or expired at most "
                               "once; hold_until_ms = event time + hold_s on every win"));
    if (c.confirmed_checked > 0 || a.hold_s > 0)
      k.push_back(absl::StrCat(c.confirmed_checked,
                               " confirmations: each of a standing win, before its hold "
                               "deadline, naming its pass <campaign>:<position>"));
    if (c.expiries_checked > 0 || a.hold_s > 0)
      k.push_back(absl::StrCat(c.expiries_checked,
                               " expiries: each at or after its deadline, in (deadline, "
                               "position) order, its StockChanged +1 next; no hold live past "
                               "its deadline"));
    if (c.at_close) {
      if (c.close_drawn) {
        k.push_back(absl::StrCat(
            "at-close draw: ", c.close_draws, " positions, ", a.rederived,
            " values re-derived from the seed and the entropy value; the ",
            std::min<uint64_t>(c.close_stock, a.won - a.promoted),
            " smallest eligible values won (ties by position), the waitlist order and the "
            "losers checked against the rule"));
        k.push_back(absl::StrCat(a.promoted, " of ", a.waitlisted,
                                 " waitlisted promoted: each the waitlist head (rank = promoted "
                                 "+ 1), for a unit returned in the same answer, until stock or "
                                 "waitlist ran out"));
      } else {
        k.push_back("at-close draw: not drawn yet (the campaign is open)");
      }
    }
    if (c.merkle_checked) k.push_back("Merkle root: " + a.merkle);
    if (c.has_items) {
      k.push_back(
          absl::StrCat(a.items.size(),
                       " items: per item, units never negative, stock left + taken - returned "
                       "= stock + restocked after every answer, item_stock_left as counted, "
                       "the items' units left adding up to the campaign's; confirmed units <= "
                       "units out; give-backs and expiries return exactly the units taken; "
                       "quantities within the item's and the campaign's per-user maximum (",
                       c.campaign_max, ")"));
      if (!c.on_admission)
        k.push_back(
            "all or nothing: every WON draw only when the whole quantity fit in its item, every "
            "SOLD_OUT only when it did not" +
            std::string(c.at_close ? "; at close, per item in (value, position) order, waitlists "
                                     "and promotions per item (head first, only when its "
                                     "quantity fits)"
                                   : ""));
    }
    if (c.on_admission) {
      k.push_back(absl::StrCat(
          "choosing on admission (choose_s ", c.cfg.choose_s(), "): ", a.chosen, " choices, ",
          a.choices_expired,
          " expiries; every ADMITTED draw with choose_until = time + choose_s; no admission while "
          "the admitted not yet chosen could take every unit left; every choice by an admitted "
          "user before the deadline with the units left, one per admission; expiries at or after "
          "the deadline in (deadline, position) order"));
      k.push_back(absl::StrCat(a.item_full_refusals - c.item_full_unparsed,
                               " ITEM_FULL refusals: each to a user choosing, with fewer units "
                               "left than asked"));
      if (c.item_full_unparsed > 0)
        a.not_checked.push_back(
            absl::StrCat(c.item_full_unparsed,
                         " ITEM_FULL refusals that name no item of the campaign or no quantity"));
    }
  }

  // The win-rate and uniformity tests over the counts the events gave.
  static void Rate(BinomialTest& r, uint32_t win_bps) {
    r.p0 = win_bps / 10000.0;
    r.observed = r.n ? double(r.k) / r.n : 0;
    WilsonInterval(r.k, r.n, kZ95, r.wilson95);
    WilsonInterval(r.k, r.n, kZ999, r.wilson999);
    r.p_value = BinomialTwoSidedP(r.k, r.n, r.p0);
  }

  static void ComputeStatistics(CampaignAudit& a) {
    Rate(a.rate, a.win_bps);
    for (ItemAudit& it : a.items) Rate(it.rate, a.win_bps);
    UniformityTest& u = a.uniformity;
    if (u.n > 0) {
      const double expect = u.n / 16.0;
      for (uint64_t b : u.bins) u.chi_square += (b - expect) * (b - expect) / expect;
      u.p_value = ChiSquareUpperP(u.chi_square, 15);
    }
  }

  // What the statistics say; a failed test is also a violation.
  std::string Verdict(const CampaignAudit& a) {
    const BinomialTest& r = a.rate;
    const UniformityTest& u = a.uniformity;
    std::vector<std::string> verdict;
    if (r.n < 100 || (a.win_bps > 0 && a.win_bps < 10000 && r.n * r.p0 < 10)) {
      verdict.push_back(
          absl::StrFormat("too few eligible draws (%d) for the rate test to mean much", r.n));
    } else if (a.win_bps == 10000 || a.win_bps == 0) {
      verdict.push_back(
          absl::StrFormat("win rate %.0f%% by construction; every outcome checked", r.p0 * 100));
    } else if (r.p_value < 0.001) {
      report_->violations_total++;
      report_->violations.push_back(
          {a.id, "win rate",
           absl::StrFormat("%d wins in %d eligible draws (%.4f%%) against %.2f%% configured: "
                           "exact binomial p = %.3g < 0.001",
                           r.k, r.n, 100 * r.observed, 100 * r.p0, r.p_value)});
      verdict.push_back("the observed win rate is NOT consistent with the configured rate");
    } else {
      verdict.push_back(absl::StrFormat(
          "the observed win rate %.4f%% is consistent with the configured %.2f%% (p = %.3g)",
          100 * r.observed, 100 * r.p0, r.p_value));
    }
    // Lotteries per item: the rate test per item too.
    if (a.win_bps > 0 && a.win_bps < 10000) {
      for (const ItemAudit& it : a.items) {
        const BinomialTest& b = it.rate;
        if (b.n < 100 || b.n * b.p0 < 10) continue;
        if (b.p_value < 0.001) {
          report_->violations_total++;
          report_->violations.push_back(
              {a.id, "win rate",
               absl::StrFormat("item %s: %d wins in %d eligible draws (%.4f%%) against %.2f%% "
                               "configured: exact binomial p = %.3g < 0.001",
                               it.id, b.k, b.n, 100 * b.observed, 100 * b.p0, b.p_value)});
          verdict.push_back(absl::StrCat("the win rate of item ", it.id,
                                         " is NOT consistent with the configured rate"));
        } else {
          verdict.push_back(absl::StrFormat("item %s: %.4f%% over %d draws, consistent (p = %.3g)",
                                            it.id, 100 * b.observed, b.n, b.p_value));
        }
      }
    }
    const ArrivalTest& t = a.arrival;
    if (t.tested) {
      if (t.p_value < 0.001) {
        report_->violations_total++;
        report_->violations.push_back(
            {a.id, "arrival order",
             absl::StrFormat("at-close wins depend on arrival order: chi-square %.1f over the 10 "
                             "arrival deciles (9 degrees of freedom), p = %.3g < 0.001",
                             t.chi_square, t.p_value)});
        verdict.push_back("the at-close wins DEPEND on arrival order");
      } else {
        verdict.push_back(absl::StrFormat(
            "the at-close wins look independent of arrival order (p = %.3g)", t.p_value));
      }
    } else if (t.n > 0) {
      verdict.push_back(
          "too few at-close wins or losses per arrival decile for the arrival-order test");
    }
    if (u.n >= 160) {
      if (u.p_value < 0.001) {
        report_->violations_total++;
        report_->violations.push_back(
            {a.id, "uniformity",
             absl::StrFormat("draw values are not uniform: chi-square %.1f on 15 degrees of "
                             "freedom, p = %.3g < 0.001",
                             u.chi_square, u.p_value)});
        verdict.push_back("the draw values are NOT uniform");
      } else {
        verdict.push_back(absl::StrFormat("the draw values look uniform (p = %.3g)", u.p_value));
      }
    }
    return absl::StrJoin(verdict, "; ");
  }

  const AuditOptions& options_;
  AuditReport* report_;
  std::map<std::string, std::unique_ptr<Campaign>> campaigns_;
  const bool rederive_later_;
  // The event being checked, for the findings' location.
  int partition_ = 0;
  uint64_t offset_ = 0, sequence_ = 0;
};

constexpr char kWrongSecret[] = "wrong secret";

// The engine's digest chain (ChainDigest) over a partition's distinct ledger
// events, in sequence order. The re-decide's fold computes the same chain
// anyway, so comparing the two costs the ledger pass one SHA-256 per command
// and the re-decide nothing; only when they differ is the ledger read again
// to name the first differing event.
struct EventsHash {
  Hash digest{};
  DigestAnswer answer;
  uint64_t count = 0;
  void Add(uint32_t command_events, const std::string& bytes) {
    ChainDigest(&digest, &answer, command_events, bytes);
    count++;
  }
  std::string Final() const { return ToHex(digest) + "/" + std::to_string(count); }
};

// Re-decides partition p's commands as the engine does (DecideAndFold);
// `each(event, bytes, command offset)`, if given, sees every event and may
// stop the run with an error. Returns the digest chain as EventsHash::Final
// spells it.
absl::StatusOr<std::string> Redecide(
    EventLog* commands, int p, const EngineConfig& config,
    const std::function<absl::Status(const pb::Event&, const std::string&, uint64_t)>& each) {
  EngineState state;
  EventList events;
  std::vector<LogRecord> in;
  absl::StatusOr<uint64_t> end = commands->EndOffset(p);
  if (!end.ok()) return end.status();
  // Commands are decoded kPrefetchAhead ahead of the one decided, so that
  // its user's index slots can be prefetched; an undecodable command is the
  // error once every command before it is decided.
  std::vector<pb::Command> cmds;
  for (uint64_t at = 0; at < *end;) {
    if (absl::Status st = commands->Read(p, at, kReadBatch, &in); !st.ok() || in.empty())
      return absl::DataLossError(absl::StrCat("commands partition ", p, " unreadable at ", at));
    at = in.back().offset + 1;
    if (cmds.size() < in.size()) cmds.resize(in.size());
    size_t decoded = 0;
    absl::Status bad;
    for (size_t i = 0; i < in.size(); ++i) {
      for (; bad.ok() && decoded < in.size() && decoded <= i + kPrefetchAhead; ++decoded) {
        bad = DecodeCommand(in[decoded], p, &cmds[decoded]);
        if (!bad.ok()) break;
        if (decoded > i && cmds[decoded].has_request_entry())
          PrefetchUser(state, cmds[decoded].campaign_id(), cmds[decoded].request_entry().user_id());
      }
      if (i >= decoded) return bad;
      const uint64_t offset = in[i].offset;
      auto emit = [&](const pb::Event& e, std::string&& bytes) {
        return each ? each(e, bytes, offset) : absl::OkStatus();
      };
      if (absl::Status st = DecideAndFold(&state, config, Limits(), cmds[i], offset, &events, emit);
          !st.ok())
        return st;
    }
  }
  return ToHex(state.digest) + "/" + std::to_string(state.next_sequence - 1);
}

// Re-decides partition p's commands and compares every event with the
// ledger's; returns "" if identical, kWrongSecret, or what differs.
std::string FirstDifference(EventLog* commands, EventLog* ledger, int p,
                            const EngineConfig& config) {
  LedgerReader reader(ledger, p, LedgerPosition{}, 8192);
  LedgerBatch led;
  size_t led_i = 0;
  // The next distinct ledger record (LedgerReader's policy).
  auto next_ledger = [&](std::string* out, std::string* err) -> bool {
    while (led_i == led.size()) {
      if (absl::Status st = reader.Next(&led); !st.ok()) {
        *err = std::string(st.message());
        return false;
      }
      if (led.read == 0) return false;
      led_i = 0;
    }
    *out = led.records[led_i++].value;
    return true;
  };
  std::string difference;
  auto compare = [&](const pb::Event& e, const std::string& bytes, uint64_t offset) {
    std::string logged, err;
    if (!next_ledger(&logged, &err)) {
      difference = err.empty()
                       ? absl::StrCat("partition ", p, ": the ledger ends before sequence ",
                                      e.sequence(), ", which command offset ", offset, " decides")
                       : err;
      return absl::AbortedError("differs");
    }
    if (logged == bytes) return absl::OkStatus();
    pb::Event l;
    l.ParseFromString(logged);
    if (l.has_campaign_created() && e.has_campaign_created() &&
        l.campaign_created().seed_commitment() != e.campaign_created().seed_commitment()) {
      difference = kWrongSecret;
    } else {
      difference = absl::StrCat("partition ", p, ", sequence ", e.sequence(), ": the ledger has {",
                                l.ShortDebugString(), "}, re-deciding command offset ", offset,
                                " gives {", e.ShortDebugString(), "}");
    }
    return absl::AbortedError("differs");
  };
  absl::StatusOr<std::string> digest = Redecide(commands, p, config, compare);
  if (!difference.empty()) return difference;
  if (!digest.ok()) return std::string(digest.status().message());
  std::string extra, err;
  if (next_ledger(&extra, &err))
    return absl::StrCat("partition ", p, ": the ledger holds events no command decides");
  return err;
}

}  // namespace

double ChiSquareUpperP(double x, double dof) { return GammaQ(dof / 2, x / 2); }

void ArrivalChiSquare(ArrivalTest* t) {
  t->chi_square = 0;
  t->p_value = 1;
  uint64_t n = 0, wins = 0;
  for (int d = 0; d < 10; ++d) {
    n += t->size[d];
    wins += t->won[d];
  }
  if (n == 0 || wins == 0 || wins == n) return;
  const double rate = double(wins) / n;
  int groups = 0;
  for (int d = 0; d < 10; ++d) {
    if (t->size[d] == 0) continue;
    groups++;
    const double won = t->won[d], lost = t->size[d] - won;
    const double e_won = t->size[d] * rate, e_lost = t->size[d] * (1 - rate);
    t->chi_square +=
        (won - e_won) * (won - e_won) / e_won + (lost - e_lost) * (lost - e_lost) / e_lost;
  }
  if (groups > 1) t->p_value = ChiSquareUpperP(t->chi_square, groups - 1);
}

namespace {

// Re-decides every partition on its own thread, beside the ledger pass (on
// the other core); redecided[p] gets the digest chain or "!" and the error.
std::thread StartDeterminism(EventLog* commands, int partitions, const AuditOptions& options,
                             std::vector<std::string>* redecided) {
  return std::thread([commands, partitions, &options, redecided] {
    for (int p = 0; p < partitions; ++p) {
      absl::StatusOr<std::string> digest = Redecide(commands, p, options.config, nullptr);
      // StrCat, not "!" + std::string: GCC 12 at -O3 reports a false -Wrestrict on that.
      (*redecided)[p] = digest.ok() ? *digest : absl::StrCat("!", digest.status().message());
    }
  });
}

// A batch of one partition's distinct events, decoded (LedgerReader's policy).
struct Batch {
  int partition = 0;
  LedgerBatch ledger;
  absl::Status status;
};

// The reading pass: every partition up to its end offset at the start, in
// order, each partition's reader reading ahead on its own thread while the
// checks run. After a sequence error (a gap or a forged repeat: a
// violation) the next partition is read still; nothing is read after a
// failed or short read.
class BatchReader {
 public:
  BatchReader(EventLog* ledger, const std::vector<uint64_t>& ends) : ledger_(ledger), ends_(ends) {}

  // The next batch into b; false when the ledger is done.
  bool Read(Batch* b) {
    while (read_p_ < ledger_->partitions() &&
           (reader_ ? reader_->position().offset : 0) >= ends_[read_p_]) {
      ++read_p_;
      reader_.reset();
    }
    if (read_p_ >= ledger_->partitions()) return false;
    if (!reader_) {
      reader_ = std::make_unique<LedgerReader>(ledger_, read_p_, LedgerPosition{}, kReadBatch);
      reader_->ReadAhead(kReadAhead, ends_[read_p_]);
    }
    b->partition = read_p_;
    b->status = reader_->Next(&b->ledger, ends_[read_p_]);
    if (LedgerReader::IsSequenceError(b->status)) {
      ++read_p_;
      reader_.reset();
    } else if (!b->status.ok() || b->ledger.read == 0) {
      read_p_ = ledger_->partitions();
    }
    return true;
  }

 private:
  EventLog* ledger_;
  const std::vector<uint64_t>& ends_;
  int read_p_ = 0;
  std::unique_ptr<LedgerReader> reader_;  // of partition read_p_
};

// The consumer: checks one batch of one partition; false when the ledger is
// unreadable (report.error says why) and the audit stops.
bool CheckBatch(const Batch& b, Auditor* auditor, std::vector<EventsHash>* ledger_hash,
                AuditReport* report) {
  const int p = b.partition;
  if (LedgerReader::IsSequenceError(b.status)) {
    report->violations_total++;
    report->violations.push_back({"", "ledger", std::string(b.status.message())});
  } else if (!b.status.ok()) {
    report->error = absl::StrCat("ledger unreadable: ", b.status.message());
    return false;
  }
  for (size_t i = 0; i < b.ledger.size(); ++i) {
    if (i + kPrefetchAhead < b.ledger.size())
      auditor->Prefetch(b.ledger.events[i + kPrefetchAhead]);
    const LogRecord& r = b.ledger.records[i];
    const pb::Event& e = b.ledger.events[i];
    if (ledger_hash) (*ledger_hash)[p].Add(e.command_events(), r.value);
    report->ledger_events++;
    auditor->Event(e, p, r.offset);
  }
  report->ledger_records += b.ledger.read;
  return true;
}

// Compares the re-decided digest chains with the ledger's; where they
// differ, names the first difference. Sets report.determinism.
void ReportDeterminism(EventLog* ledger, EventLog* commands, const AuditOptions& options,
                       std::vector<std::string>& redecided,
                       const std::vector<EventsHash>& ledger_hash, AuditReport* report) {
  if (commands == nullptr) {
    report->determinism = "not checked: no commands log";
    return;
  }
  if (!options.determinism) {
    report->determinism = "not checked (--no-determinism)";
    return;
  }
  if (!options.have_secret) {
    report->determinism =
        "not checked: re-deciding needs the engine's seed secret (TICKETLEDGER_SEED_SECRET or "
        "--seed-secret-file)";
    return;
  }
  bool same = true, wrong_secret = false;
  for (int p = 0; p < ledger->partitions(); ++p) {
    if (!redecided[p].empty() && redecided[p][0] != '!' && redecided[p] == ledger_hash[p].Final())
      continue;
    // They differ: read both again to name the first difference.
    redecided[p] = FirstDifference(commands, ledger, p, options.config);
    if (redecided[p].empty()) continue;
    if (redecided[p] == kWrongSecret) {
      wrong_secret = true;
      continue;
    }
    same = false;
    report->violations_total++;
    report->violations.push_back({"", "determinism", redecided[p]});
  }
  if (wrong_secret)
    report->determinism =
        "not checked: the engine secret given does not reproduce the campaigns' seed "
        "commitments (give the engine's TICKETLEDGER_SEED_SECRET)";
  else
    report->determinism = same ? "re-deciding every command gives the identical ledger, byte for "
                                 "byte"
                               : "re-deciding the commands gives a DIFFERENT ledger";
}

uint64_t CountCommands(EventLog* commands) {
  uint64_t n = 0;
  for (int p = 0; p < (commands ? commands->partitions() : 0); ++p) {
    absl::StatusOr<uint64_t> end = commands->EndOffset(p);
    if (end.ok()) n += *end;
  }
  return n;
}

}  // namespace

AuditReport Audit(EventLog* ledger, EventLog* commands, const AuditOptions& options,
                  const std::function<void(uint64_t, uint64_t)>& progress) {
  AuditReport report;
  std::vector<std::string> redecided(ledger->partitions());
  std::vector<EventsHash> ledger_hash(ledger->partitions());
  std::thread determinism;
  const bool redecide = options.determinism && commands != nullptr && options.have_secret;
  if (redecide) determinism = StartDeterminism(commands, ledger->partitions(), options, &redecided);
  uint64_t total = 0, done = 0;
  std::vector<uint64_t> ends(ledger->partitions());
  for (int p = 0; p < ledger->partitions(); ++p) {
    absl::StatusOr<uint64_t> end = ledger->EndOffset(p);
    if (!end.ok()) {
      report.error = absl::StrCat("ledger unreadable: ", end.status().message());
      if (determinism.joinable()) determinism.join();
      return report;
    }
    ends[p] = *end;
    total += *end;
  }
  Auditor auditor(options, &report, /*rederive_later=*/redecide);
  {
    BatchReader source(ledger, ends);
    Batch b;
    while (source.Read(&b)) {
      if (!CheckBatch(b, &auditor, redecide ? &ledger_hash : nullptr, &report)) break;
      done += b.ledger.read;
      if (progress) progress(done, total);
      if (!report.error.empty()) break;
    }
  }  // the read-ahead thread stops here
  if (determinism.joinable()) determinism.join();
  if (!report.error.empty()) return report;
  std::vector<bool> identical(ledger->partitions(), false);
  for (int p = 0; p < ledger->partitions() && redecide; ++p)
    identical[p] =
        !redecided[p].empty() && redecided[p][0] != '!' && redecided[p] == ledger_hash[p].Final();
  auditor.Finish(identical);
  ReportDeterminism(ledger, commands, options, redecided, ledger_hash, &report);
  report.commands = CountCommands(commands);
  return report;
}

std::string RenderAuditText(const AuditReport& r) {
  std::string out;
  if (!r.error.empty()) return "COULD NOT AUDIT: " + r.error + "\n";
  absl::StrAppendFormat(&out, "ledger: %d records, %d events; commands: %d\n", r.ledger_records,
                        r.ledger_events, r.commands);
  absl::StrAppend(&out, "determinism: ", r.determinism, "\n");
  for (const CampaignAudit& c : r.campaigns) {
    absl::StrAppendFormat(&out, "\ncampaign %s%s\n", c.id, c.closed ? " (closed)" : "");
    absl::StrAppendFormat(&out,
                          "  entries %d, admitted %d, drawn %d: won %d, lost %d, sold out %d; "
                          "cancelled %d; stock %d + restocked %d, left %d\n",
                          c.entries, c.admitted, c.drawn, c.won, c.lost, c.sold_out, c.cancelled,
                          c.stock, c.restocked, c.stock_left);
    absl::StrAppendFormat(&out,
                          "  draw %s, hold %d s: confirmed %d, expired %d, waitlisted %d, "
                          "promoted %d\n",
                          c.draw, c.hold_s, c.confirmed, c.expired, c.waitlisted, c.promoted);
    absl::StrAppendFormat(&out, "  seed: %s; %d draws re-derived\n", c.seed, c.rederived);
    if (!c.merkle.empty()) absl::StrAppend(&out, "  merkle root: ", c.merkle, "\n");
    if (!c.choose.empty())
      absl::StrAppendFormat(&out,
                            "  items %d, choose %s: chosen %d, choices expired %d, item-full "
                            "refusals %d\n",
                            c.items.size(), c.choose, c.chosen, c.choices_expired,
                            c.item_full_refusals);
    for (const ItemAudit& it : c.items) {
      absl::StrAppendFormat(&out,
                            "  item %s: stock %d + restocked %d, taken %d, returned %d, left %d; "
                            "confirmed %d (units); won %d, sold out %d, waitlisted %d, promoted "
                            "%d (entries); per-user max %d\n",
                            it.id, it.stock, it.restocked, it.taken, it.returned, it.stock_left,
                            it.confirmed, it.won, it.sold_out, it.waitlisted, it.promoted,
                            it.per_user_max);
      if (it.rate.n > 0 && c.win_bps > 0 && c.win_bps < 10000)
        absl::StrAppendFormat(&out,
                              "    win rate %.4f%% over %d draws (Wilson 95%% [%.4f%%, %.4f%%]), "
                              "binomial p = %.4g\n",
                              100 * it.rate.observed, it.rate.n, 100 * it.rate.wilson95[0],
                              100 * it.rate.wilson95[1], it.rate.p_value);
    }
    for (const std::string& k : c.checks) absl::StrAppend(&out, "  checked: ", k, "\n");
    const BinomialTest& b = c.rate;
    absl::StrAppendFormat(
        &out,
        "  win rate over the %d %s: %d under the threshold = %.4f%% (configured "
        "%.2f%%)\n"
        "    Wilson 95%% interval [%.4f%%, %.4f%%], 99.9%% interval [%.4f%%, %.4f%%]\n"
        "    exact two-sided binomial test against %.2f%%: p = %.4g\n",
        b.n, c.draw == "at_close" ? "at-close draws" : "draws made while stock remained", b.k,
        100 * b.observed, 100 * b.p0, 100 * b.wilson95[0], 100 * b.wilson95[1],
        100 * b.wilson999[0], 100 * b.wilson999[1], 100 * b.p0, b.p_value);
    absl::StrAppendFormat(&out,
                          "  uniformity of the %d draw values: chi-square %.2f over 16 bins (15 "
                          "degrees of freedom), p = %.4g\n",
                          c.uniformity.n, c.uniformity.chi_square, c.uniformity.p_value);
    if (c.arrival.n > 0) {
      absl::StrAppendFormat(&out,
                            "  at-close wins by arrival decile (%d entries, %d won):", c.arrival.n,
                            c.arrival.wins);
      for (int d = 0; d < 10; ++d) absl::StrAppendFormat(&out, " %d", c.arrival.won[d]);
      absl::StrAppendFormat(&out, "\n    chi-square %.2f (9 degrees of freedom), p = %.4g%s\n",
                            c.arrival.chi_square, c.arrival.p_value,
                            c.arrival.tested ? "" : " (too few for the test)");
    }
    for (const std::string& n : c.not_checked) absl::StrAppend(&out, "  not checked: ", n, "\n");
    absl::StrAppend(&out, "  verdict: ", c.verdict, "\n");
  }
  if (r.violations_total == 0) {
    absl::StrAppend(&out, "\nCLEAN: every check passed\n");
  } else {
    absl::StrAppendFormat(&out, "\nVIOLATIONS: %d\n", r.violations_total);
    for (const Finding& f : r.violations)
      absl::StrAppendFormat(&out, "  [%s] %s: %s\n", f.check, f.campaign, f.detail);
    if (r.violations.size() < r.violations_total)
      absl::StrAppendFormat(&out, "  (%d more not listed)\n",
                            r.violations_total - r.violations.size());
  }
  return out;
}

nlohmann::json RenderAuditJson(const AuditReport& r) {
  nlohmann::json j = {{"exit_code", r.ExitCode()},        {"ledger_records", r.ledger_records},
                      {"ledger_events", r.ledger_events}, {"commands", r.commands},
                      {"determinism", r.determinism},     {"violations_total", r.violations_total}};
  if (!r.error.empty()) j["error"] = r.error;
  j["violations"] = nlohmann::json::array();
  for (const Finding& f : r.violations)
    j["violations"].push_back({{"campaign", f.campaign}, {"check", f.check}, {"detail", f.detail}});
  j["campaigns"] = nlohmann::json::array();
  for (const CampaignAudit& c : r.campaigns) {
    const BinomialTest& b = c.rate;
    nlohmann::json deciles = nlohmann::json::array();
    for (int d = 0; d < 10; ++d)
      deciles.push_back({{"entries", c.arrival.size[d]}, {"won", c.arrival.won[d]}});
    nlohmann::json items = nlohmann::json::array();
    for (const ItemAudit& it : c.items)
      items.push_back({{"id", it.id},
                       {"stock", it.stock},
                       {"restocked", it.restocked},
                       {"taken", it.taken},
                       {"returned", it.returned},
                       {"stock_left", it.stock_left},
                       {"confirmed", it.confirmed},
                       {"won", it.won},
                       {"sold_out", it.sold_out},
                       {"waitlisted", it.waitlisted},
                       {"promoted", it.promoted},
                       {"per_user_max", it.per_user_max},
                       {"win_rate",
                        {{"eligible_draws", it.rate.n},
                         {"wins", it.rate.k},
                         {"observed", it.rate.observed},
                         {"wilson_95", {it.rate.wilson95[0], it.rate.wilson95[1]}},
                         {"binomial_two_sided_p", it.rate.p_value}}}});
    j["campaigns"].push_back({{"id", c.id},
                              {"choose", c.choose},
                              {"items", items},
                              {"chosen", c.chosen},
                              {"choices_expired", c.choices_expired},
                              {"item_full_refusals", c.item_full_refusals},
                              {"draw", c.draw},
                              {"hold_s", c.hold_s},
                              {"confirmed", c.confirmed},
                              {"expired", c.expired},
                              {"waitlisted", c.waitlisted},
                              {"promoted", c.promoted},
                              {"merkle_root_check", c.merkle},
                              {"checks", c.checks},
                              {"closed", c.closed},
                              {"win_bps", c.win_bps},
                              {"entries", c.entries},
                              {"admitted", c.admitted},
                              {"drawn", c.drawn},
                              {"won", c.won},
                              {"lost", c.lost},
                              {"sold_out", c.sold_out},
                              {"cancelled", c.cancelled},
                              {"stock", c.stock},
                              {"restocked", c.restocked},
                              {"stock_left", c.stock_left},
                              {"seed", c.seed},
                              {"draws_rederived", c.rederived},
                              {"not_checked", c.not_checked},
                              {"win_rate",
                               {{"eligible_draws", b.n},
                                {"wins", b.k},
                                {"observed", b.observed},
                                {"configured", b.p0},
                                {"wilson_95", {b.wilson95[0], b.wilson95[1]}},
                                {"wilson_99_9", {b.wilson999[0], b.wilson999[1]}},
                                {"binomial_two_sided_p", b.p_value}}},
                              {"uniformity",
                               {{"draws", c.uniformity.n},
                                {"chi_square", c.uniformity.chi_square},
                                {"degrees_of_freedom", 15},
                                {"p", c.uniformity.p_value}}},
                              {"arrival_order",
                               {{"tested", c.arrival.tested},
                                {"entries", c.arrival.n},
                                {"wins", c.arrival.wins},
                                {"deciles", deciles},
                                {"chi_square", c.arrival.chi_square},
                                {"degrees_of_freedom", 9},
                                {"p", c.arrival.p_value}}},
                              {"verdict", c.verdict}});
  }
  return j;
}

}  // namespace tl
