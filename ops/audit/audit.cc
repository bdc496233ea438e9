#include "ops/audit/audit.h"

#include <cmath>
#include <deque>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
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

enum : uint8_t { kQueued = 0, kWon, kLost, kSoldOut, kCancelled, kUndrawn = 255 };

struct Campaign {
  CampaignAudit out;
  pb::CreateCampaign cfg;
  std::string commitment;
  uint64_t created_ms = 0;
  bool created = false, revealed = false, have_seed = false;
  Drawer drawer;      // from the seed, once have_seed
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
};

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
        if (c.out.closed) Bad(c, "after close", "closed twice");
        c.out.closed = true;
        return;
      case pb::Event::kSeedRevealed:
        return OnSeedRevealed(c, e);
      case pb::Event::kEntryRejected:
      case pb::Event::kAdmissionPaused:
      case pb::Event::kAdmissionResumed:
      case pb::Event::kEntryConfirmed:  // audited on branch audit14 (issue 14)
      case pb::Event::kHoldExpired:
      case pb::Event::kEntryPromoted:
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
    if (auto it = options_.seeds.find(c.out.id); it != options_.seeds.end()) {
      Hash h = SeedCommitment(it->second);
      if (std::string(h.begin(), h.end()) != c.commitment) {
        report_->error = absl::StrCat("the --seed-file seed for campaign ", c.out.id,
                                      " does not match its commitment");
      } else {
        c.have_seed = true;
        c.drawer = Drawer(it->second);
        c.out.seed = "given with --seed-file; matches the commitment";
        RederiveLater(c);
      }
    }
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
    }
    c.by_position[q.position() - 1] = &c.users.back();
  }

  void OnAdmitted(Campaign& c, const pb::Event& e) {
    const auto& a = e.entry_admitted();
    if (a.position() != c.serving + 1)
      Bad(c, "admission order",
          absl::StrCat("position ", a.position(), " admitted after ", c.serving));
    if (a.position() > c.out.entries)
      Bad(c, "admission order",
          absl::StrCat("position ", a.position(), " admitted but only ", c.out.entries,
                       " entered"));
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
    const bool stock_before = c.out.stock_left > 0;
    pb::Outcome want = !under         ? pb::OUTCOME_LOST
                       : stock_before ? pb::OUTCOME_WON
                                      : pb::OUTCOME_SOLD_OUT;
    if (d.outcome() != want)
      Bad(c, "outcome",
          absl::StrCat("position ", pos, ": logged ", pb::Outcome_Name(d.outcome()),
                       ", the draw value and stock "
                       "left give ",
                       pb::Outcome_Name(want)));
    if (d.outcome() == pb::OUTCOME_WON) {
      if (!stock_before)
        Bad(c, "stock", absl::StrCat("position ", pos, " won after stock ran out"));
      else
        c.out.stock_left--;
      c.out.won++;
      c.status[pos - 1] = kWon;
    } else if (d.outcome() == pb::OUTCOME_SOLD_OUT) {
      c.out.sold_out++;
      c.status[pos - 1] = kSoldOut;
    } else {
      c.out.lost++;
      c.status[pos - 1] = kLost;
    }
    if (d.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("position ", pos, ": stock_left logged ", d.stock_left(), ", should be ",
                       c.out.stock_left));
    c.out.drawn++;
    // The statistics: draws made while stock remained, and every value.
    if (stock_before) {
      c.out.rate.n++;
      c.out.rate.k += under;
    }
    c.out.uniformity.n++;
    c.out.uniformity.bins[d.draw_value() >> 60]++;
  }

  void OnStockChanged(Campaign& c, const pb::Event& e) {
    const auto& s = e.stock_changed();
    if (s.delta() < 0 && static_cast<uint64_t>(-s.delta()) > c.out.stock_left)
      Bad(c, "stock", "stock would go negative");
    c.out.stock_left = static_cast<uint64_t>(static_cast<int64_t>(c.out.stock_left) + s.delta());
    if (s.reason() == pb::STOCK_RESTOCK) c.out.restocked += s.delta();
    if (s.stock_left() != c.out.stock_left)
      Bad(c, "stock",
          absl::StrCat("stock_left logged ", s.stock_left(), ", should be ", c.out.stock_left));
    if (c.out.won - c.out.cancelled > c.out.stock + c.out.restocked)
      Bad(c, "stock", "wins minus cancellations exceed stock plus restocks");
  }

  void OnCancelled(Campaign& c, const pb::Event& e) {
    const uint64_t pos = e.entry_cancelled().position();
    if (pos == 0 || pos > c.status.size() || c.status[pos - 1] != kWon)
      return Bad(c, "cancellation", absl::StrCat("position ", pos, " cancelled but not won"));
    c.status[pos - 1] = kCancelled;
    c.out.cancelled++;
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

  // The win-rate and uniformity tests over the counts the events gave.
  static void ComputeStatistics(CampaignAudit& a) {
    BinomialTest& r = a.rate;
    r.p0 = a.win_bps / 10000.0;
    r.observed = r.n ? double(r.k) / r.n : 0;
    WilsonInterval(r.k, r.n, kZ95, r.wilson95);
    WilsonInterval(r.k, r.n, kZ999, r.wilson999);
    r.p_value = BinomialTwoSidedP(r.k, r.n, r.p0);
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
    absl::StrAppendFormat(&out, "  seed: %s; %d draws re-derived\n", c.seed, c.rederived);
    const BinomialTest& b = c.rate;
    absl::StrAppendFormat(
        &out,
        "  win rate over the %d draws made while stock remained: %d wins = %.4f%% (configured "
        "%.2f%%)\n"
        "    Wilson 95%% interval [%.4f%%, %.4f%%], 99.9%% interval [%.4f%%, %.4f%%]\n"
        "    exact two-sided binomial test against %.2f%%: p = %.4g\n",
        b.n, b.k, 100 * b.observed, 100 * b.p0, 100 * b.wilson95[0], 100 * b.wilson95[1],
        100 * b.wilson999[0], 100 * b.wilson999[1], 100 * b.p0, b.p_value);
    absl::StrAppendFormat(&out,
                          "  uniformity of the %d draw values: chi-square %.2f over 16 bins (15 "
                          "degrees of freedom), p = %.4g\n",
                          c.uniformity.n, c.uniformity.chi_square, c.uniformity.p_value);
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
    j["campaigns"].push_back({{"id", c.id},
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
                              {"verdict", c.verdict}});
  }
  return j;
}

}  // namespace tl
