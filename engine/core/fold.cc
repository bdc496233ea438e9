#include "engine/core/fold.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "engine/core/draw.h"

namespace tl {
namespace {

absl::Status Broken(const pb::Event& e, absl::string_view what) {
  return absl::InternalError(absl::StrCat("invariant violated at ledger sequence ", e.sequence(),
                                          " (campaign ", e.campaign_id(), "): ", what));
}

// A user who now holds an entry is no longer "rejected".
void ForgetRejection(CampaignState& c, const std::string& user) {
  if (c.rejected_users.empty()) return;
  if (c.rejected_users.erase(user) > 0) c.dirty_rejected.push_back(user);
}

absl::Status FoldCreated(EngineState* s, const EngineConfig& config, const pb::Event& e) {
  if (s->Find(e.campaign_id()) != nullptr) return Broken(e, "campaign created twice");
  const auto& created = e.campaign_created();
  auto c = std::make_unique<CampaignState>();
  // Without the secret (a process that only folds) the seed stays unknown
  // until SeedRevealed.
  if (!config.seed_secret.empty()) {
    c->seed = DeriveSeed(config.seed_secret, e.campaign_id());
    Hash commitment = SeedCommitment(c->seed);
    if (created.seed_commitment() !=
        std::string_view(reinterpret_cast<const char*>(commitment.data()), commitment.size()))
      return absl::FailedPreconditionError(absl::StrCat(
          "campaign ", e.campaign_id(),
          ": the seed commitment in the ledger does not match this engine's seed secret "
          "(the ledger was written with another secret)"));
    c->drawer = Drawer(c->seed);
  }
  c->snap.set_campaign_id(e.campaign_id());
  *c->snap.mutable_config() = created.config();
  c->snap.set_seed_commitment(created.seed_commitment());
  c->snap.set_stock_left(created.config().stock());
  c->snap.set_clock_ms(e.time_ms());
  c->dirty = true;
  s->campaigns.emplace(e.campaign_id(), std::move(c));
  return absl::OkStatus();
}

// Stock conservation, checked whenever stock or wins move.
absl::Status CheckStockBalance(const CampaignState& c, const pb::Event& e) {
  const auto& snap = c.snap;
  if (snap.won() - snap.cancelled() > snap.config().stock() + snap.restocked())
    return Broken(e, "wins - cancellations exceed initial stock + restocks");
  if (snap.stock_left() + snap.won() - snap.cancelled() != snap.config().stock() + snap.restocked())
    return Broken(e, "stock does not balance");
  return absl::OkStatus();
}

absl::Status FoldEntryPrequeued(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const std::string& user = e.entry_prequeued().user_id();
  if (snap.opened() || snap.config().queueing() != pb::QUEUEING_RANDOM)
    return Broken(e, "pre-queue entry outside a RANDOM campaign's pre-opening");
  if (c.position_of.contains(user)) return Broken(e, "user entered twice");
  if (c.entries() >= snap.config().max_entries()) return Broken(e, "entry cap exceeded");
  c.names.push_back(user);
  uint32_t idx = static_cast<uint32_t>(c.names.size() - 1);
  c.position_of.emplace(UserKey(c.names.back()), kPrequeuedBit | idx);
  ForgetRejection(c, user);
  c.prequeue.push_back(idx);
  snap.set_prequeued(snap.prequeued() + 1);
  return absl::OkStatus();
}

absl::Status FoldQueueEntered(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& q = e.queue_entered();
  if (q.position() != snap.last_position() + 1)
    return Broken(
        e, absl::StrCat("position ", q.position(), " is not gapless after ", snap.last_position()));
  // One hash and probe of the user index: a new user is inserted where
  // the lookup ended (the key points into the names arena).
  bool inserted = false;
  const UserKey key(&q.user_id(), UserKey::Hash(q.user_id()));  // hashed once
  auto it = c.entries() < snap.config().max_entries()
                ? c.position_of.lazy_emplace(key,
                                             [&](const auto& construct) {
                                               c.names.push_back(q.user_id());
                                               construct(UserKey(&c.names.back(), key.hash),
                                                         q.position());
                                               inserted = true;
                                             })
                : c.position_of.find(key);
  uint32_t idx;
  if (inserted) {
    idx = static_cast<uint32_t>(c.names.size() - 1);
    ForgetRejection(c, q.user_id());
  } else if (it == c.position_of.end()) {
    return Broken(e, "entry cap exceeded");
  } else {
    if (!(it->second & kPrequeuedBit)) return Broken(e, "user entered twice");
    idx = static_cast<uint32_t>(it->second & ~kPrequeuedBit);
    it->second = q.position();
    snap.set_prequeued(snap.prequeued() - 1);
  }
  if (c.waiting() == 0) {  // the queue starts moving now
    snap.set_clock_ms(e.time_ms());
    snap.set_credit_milli(0);
  }
  c.by_position.push_back(idx);
  c.status.push_back(EntryStatus::kQueued);
  c.dirty_positions.push_back(q.position());
  snap.set_last_position(q.position());
  if (snap.config().queueing() == pb::QUEUEING_RANDOM) {
    snap.set_opened(true);
    if (snap.prequeued() == 0) c.prequeue.clear();
  }
  return absl::OkStatus();
}

absl::Status FoldEntryRejected(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  snap.set_rejected(snap.rejected() + 1);
  const std::string& user = e.entry_rejected().user_id();
  if (!user.empty() && !c.position_of.contains(user)) {
    c.rejected_users[user] = static_cast<uint8_t>(e.entry_rejected().reason());
    c.dirty_rejected.push_back(user);
  }
  return absl::OkStatus();
}

absl::Status FoldEntryAdmitted(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& a = e.entry_admitted();
  if (a.position() != snap.serving() + 1) return Broken(e, "admission out of order");
  if (a.position() > snap.last_position())
    return Broken(e, "serving counter passes the last position");
  if (c.user_at(a.position()) != a.user_id()) return Broken(e, "admitted the wrong user");
  snap.set_serving(a.position());
  snap.set_clock_ms(e.time_ms());
  snap.set_credit_milli(a.credit_milli());
  return absl::OkStatus();
}

absl::Status FoldDrawResolved(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& d = e.draw_resolved();
  if (d.position() == 0 || d.position() != snap.serving())
    return Broken(e, "draw of a position that was not just admitted");
  if (c.status[d.position() - 1] != EntryStatus::kQueued) return Broken(e, "drawn twice");
  if (c.user_at(d.position()) != d.user_id()) return Broken(e, "drew the wrong user");
  bool under = UnderThreshold(d.draw_value(), snap.config().win_bps());
  EntryStatus status;
  switch (d.outcome()) {
    case pb::OUTCOME_WON:
      if (!under) return Broken(e, "WON with a draw value over the threshold");
      if (snap.stock_left() == 0) return Broken(e, "WON with no stock left");
      snap.set_stock_left(snap.stock_left() - 1);
      snap.set_won(snap.won() + 1);
      status = EntryStatus::kWon;
      break;
    case pb::OUTCOME_SOLD_OUT:
      if (!under) return Broken(e, "SOLD_OUT with a draw value over the threshold");
      if (snap.stock_left() != 0) return Broken(e, "SOLD_OUT while stock remained");
      snap.set_sold_out(snap.sold_out() + 1);
      status = EntryStatus::kSoldOut;
      break;
    case pb::OUTCOME_LOST:
      if (under) return Broken(e, "LOST with a draw value under the threshold");
      snap.set_lost(snap.lost() + 1);
      status = EntryStatus::kLost;
      break;
    default:
      return Broken(e, "draw without an outcome");
  }
  if (d.stock_left() != snap.stock_left()) return Broken(e, "stock_left disagrees");
  c.status[d.position() - 1] = status;
  c.dirty_positions.push_back(d.position());
  return CheckStockBalance(c, e);
}

absl::Status FoldStockChanged(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& sc = e.stock_changed();
  if (sc.delta() <= 0) return Broken(e, "stock change must be positive");
  snap.set_stock_left(snap.stock_left() + static_cast<uint64_t>(sc.delta()));
  if (sc.reason() == pb::STOCK_RESTOCK) {
    snap.set_restocked(snap.restocked() + static_cast<uint64_t>(sc.delta()));
  } else if (sc.reason() != pb::STOCK_CANCELLATION) {
    return Broken(e, "stock change without a reason");
  }
  if (sc.stock_left() != snap.stock_left()) return Broken(e, "stock_left disagrees");
  return CheckStockBalance(c, e);
}

absl::Status FoldEntryCancelled(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  const auto& x = e.entry_cancelled();
  if (x.position() == 0 || x.position() > snap.last_position() ||
      c.user_at(x.position()) != x.user_id())
    return Broken(e, "cancelled an entry that does not exist");
  if (c.status[x.position() - 1] != EntryStatus::kWon)
    return Broken(e, "cancelled an entry that is not a standing win");
  c.status[x.position() - 1] = EntryStatus::kCancelled;
  c.dirty_positions.push_back(x.position());
  snap.set_cancelled(snap.cancelled() + 1);
  return absl::OkStatus();
}

absl::Status FoldCampaignClosed(CampaignState& c, const pb::Event& e) {
  if (c.snap.closed()) return Broken(e, "closed twice");
  c.snap.set_closed(true);
  return absl::OkStatus();
}

absl::Status FoldSeedRevealed(CampaignState& c, const pb::Event& e) {
  auto& snap = c.snap;
  if (!snap.closed() || snap.revealed()) return Broken(e, "seed revealed out of turn");
  const std::string& seed = e.seed_revealed().seed();
  Hash commitment = Sha256(seed);
  if (seed.size() != c.seed.size() ||
      snap.seed_commitment() !=
          std::string_view(reinterpret_cast<const char*>(commitment.data()), 32))
    return Broken(e, "revealed seed does not match the commitment");
  std::copy(seed.begin(), seed.end(), c.seed.begin());
  snap.set_revealed(true);
  snap.set_revealed_seed(seed);
  return absl::OkStatus();
}

// One function per event kind; each checks its own invariants.
absl::Status FoldOnCampaign(CampaignState& c, const pb::Event& e) {
  c.dirty = true;
  switch (e.body_case()) {
    case pb::Event::kEntryPrequeued:
      return FoldEntryPrequeued(c, e);
    case pb::Event::kQueueEntered:
      return FoldQueueEntered(c, e);
    case pb::Event::kEntryRejected:
      return FoldEntryRejected(c, e);
    case pb::Event::kEntryAdmitted:
      return FoldEntryAdmitted(c, e);
    case pb::Event::kDrawResolved:
      return FoldDrawResolved(c, e);
    case pb::Event::kStockChanged:
      return FoldStockChanged(c, e);
    case pb::Event::kEntryCancelled:
      return FoldEntryCancelled(c, e);
    case pb::Event::kCampaignClosed:
      return FoldCampaignClosed(c, e);
    case pb::Event::kSeedRevealed:
      return FoldSeedRevealed(c, e);
    case pb::Event::kAdmissionPaused:
      c.snap.set_paused(true);
      return absl::OkStatus();
    case pb::Event::kAdmissionResumed:
      c.snap.set_paused(false);
      c.snap.set_clock_ms(e.time_ms());
      return absl::OkStatus();
    default:
      return Broken(e, "unexpected event type");
  }
}

}  // namespace

absl::Status Fold(EngineState* s, const EngineConfig& config, const pb::Event& e,
                  std::string_view encoded) {
  if (e.sequence() != s->next_sequence)
    return absl::InternalError(
        absl::StrCat("folding sequence ", e.sequence(), " but expected ", s->next_sequence));
  absl::Status st;
  if (e.body_case() == pb::Event::kCampaignCreated) {
    st = FoldCreated(s, config, e);
  } else if (CampaignState* c = s->Find(e.campaign_id())) {
    st = FoldOnCampaign(*c, e);
  } else if (e.body_case() != pb::Event::kEntryRejected) {
    st = Broken(e, "event for a campaign that does not exist");
  }
  if (!st.ok()) return st;
  if (e.has_idempotency()) {
    const pb::IdempotencyKey& k = e.idempotency();
    s->idempotency.Remember(
        {k.actor(), e.campaign_id(), k.key(), k.request_hash(), e.command_offset(), e.time_ms()});
  }
  ChainDigest(&s->digest, &s->answer, e.command_events(), encoded);
  ++s->next_sequence;
  return absl::OkStatus();
}

void ChainDigest(Hash* digest, DigestAnswer* answer, uint32_t command_events,
                 std::string_view encoded) {
  if (answer->left == 0) {  // the first event of an answer
    answer->left = command_events == 0 ? 1 : command_events;
    SHA256_Init(&answer->ctx);
    SHA256_Update(&answer->ctx, digest->data(), digest->size());
  }
  const uint32_t n = static_cast<uint32_t>(encoded.size());
  const uint8_t len[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                          static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  SHA256_Update(&answer->ctx, len, sizeof len);
  SHA256_Update(&answer->ctx, encoded.data(), encoded.size());
  if (--answer->left == 0) SHA256_Final(digest->data(), &answer->ctx);
}

absl::Status CheckInvariants(const CampaignState& c) {
  const auto& snap = c.snap;
  auto fail = [&](absl::string_view what) {
    return absl::InternalError(absl::StrCat("campaign ", snap.campaign_id(), ": ", what));
  };
  if (c.by_position.size() != snap.last_position() || c.status.size() != snap.last_position())
    return fail("positions are not gapless from 1");
  if (snap.serving() > snap.last_position()) return fail("serving counter passes last position");
  if (c.position_of.size() != snap.last_position() + snap.prequeued())
    return fail("users and entries disagree (one entry per user)");
  uint64_t won = 0, lost = 0, sold = 0, cancelled = 0;
  for (uint64_t p = 1; p <= snap.last_position(); ++p) {
    auto it = c.position_of.find(c.user_at(p));
    if (it == c.position_of.end() || it->second != p) return fail("user index disagrees");
    EntryStatus st = c.status[p - 1];
    if ((p <= snap.serving()) == (st == EntryStatus::kQueued))
      return fail("drawn positions and serving counter disagree");
    won += st == EntryStatus::kWon || st == EntryStatus::kCancelled;
    lost += st == EntryStatus::kLost;
    sold += st == EntryStatus::kSoldOut;
    cancelled += st == EntryStatus::kCancelled;
  }
  if (won != snap.won() || lost != snap.lost() || sold != snap.sold_out() ||
      cancelled != snap.cancelled())
    return fail("outcome counters disagree with entries");
  if (won - cancelled > snap.config().stock() + snap.restocked())
    return fail("wins - cancellations exceed stock + restocks");
  if (snap.stock_left() + won - cancelled != snap.config().stock() + snap.restocked())
    return fail("stock does not balance");
  if (sold > 0 && snap.config().win_bps() == 0) return fail("SOLD_OUT with win_bps 0");
  return absl::OkStatus();
}

Hash CombinedDigest(const std::vector<Hash>& partition_digests) {
  std::string all;
  for (const Hash& h : partition_digests) all.append(reinterpret_cast<const char*>(h.data()), 32);
  return Sha256(all);
}

}  // namespace tl
