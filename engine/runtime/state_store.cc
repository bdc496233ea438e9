#include "engine/runtime/state_store.h"

#include <algorithm>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "engine/core/check.h"
#include "engine/core/draw.h"

namespace tl {
namespace {

// Entries are stored 256 positions to a key: one memtable insert per page
// instead of one per entry (user ids are <= 255 bytes, see limits.h). A page
// starts with kPageFormat; then per entry: status byte, user length byte,
// user, entry time (8 bytes big-endian) and, for a won entry, its hold
// deadline (8 bytes, 0 for none). Pages without the format byte predate
// entry times and are refused (the store is a cache: refold the ledger).
constexpr uint64_t kPageEntries = 256;
constexpr char kPageFormat = '\xFE';

std::string Prefix(char kind, int partition) {
  std::string k(5, '\0');
  k[0] = kind;
  absl::big_endian::Store32(k.data() + 1, static_cast<uint32_t>(partition));
  return k;
}

std::string ItemKey(char kind, int partition, std::string_view campaign, uint64_t n) {
  std::string k = Prefix(kind, partition);
  k.append(campaign).push_back('\0');
  size_t at = k.size();
  k.resize(at + 8);
  absl::big_endian::Store64(k.data() + at, n);
  return k;
}

std::string SerialKey(char kind, int partition, uint64_t serial) {
  std::string k = Prefix(kind, partition);
  k.resize(13);
  absl::big_endian::Store64(k.data() + 5, serial);
  return k;
}

void AppendBig64(std::string* out, uint64_t v) {
  char b[8];
  absl::big_endian::Store64(b, v);
  out->append(b, 8);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("state store: ", what, " (rebuild it with `ticketctl replay`)"));
}

// Splits "campaign \0 n" after the prefix.
bool SplitItem(std::string_view key, std::string_view* campaign, uint64_t* n) {
  std::string_view rest = key.substr(5);
  if (rest.size() < 9 || rest[rest.size() - 9] != '\0') return false;
  *campaign = rest.substr(0, rest.size() - 9);
  *n = absl::big_endian::Load64(rest.data() + rest.size() - 8);
  return true;
}

// Reads one entry page into the campaigns already loaded.
absl::Status LoadEntryPage(std::string_view key, std::string_view v, EngineState* state) {
  std::string_view campaign;
  uint64_t page;
  if (!SplitItem(key, &campaign, &page)) return Corrupt("malformed entry page key");
  CampaignState* c = state->Find(campaign);
  if (c == nullptr)
    return Corrupt(absl::StrCat("entries of unknown campaign ", std::string(campaign)));
  if (page * kPageEntries != c->by_position.size())
    return Corrupt(
        absl::StrCat("campaign ", std::string(campaign), ": entry page ", page, " out of order"));
  if (v.empty() || v[0] != kPageFormat)
    return absl::FailedPreconditionError(
        "the state store predates entry times and holds (its entry pages have no format "
        "byte); it is a cache of the ledger: delete it (<data-dir>/state) and the engine "
        "refolds the ledger into a new one");
  v.remove_prefix(1);
  while (!v.empty()) {
    if (v.size() < 2 || v.size() < size_t{10} + static_cast<uint8_t>(v[1]))
      return Corrupt("truncated entry page");
    auto status = static_cast<EntryStatus>(v[0]);
    if (static_cast<uint8_t>(status) > kEntryStatusMax) return Corrupt("unknown entry status");
    size_t len = static_cast<uint8_t>(v[1]);
    c->names.emplace_back(v.substr(2, len));
    c->entered_ms.push_back(absl::big_endian::Load64(v.data() + 2 + len));
    v.remove_prefix(10 + len);
    c->by_position.push_back(static_cast<uint32_t>(c->names.size() - 1));
    c->status.push_back(status);
    const uint64_t pos = c->by_position.size();
    if (status == EntryStatus::kWon) {
      if (v.size() < 8) return Corrupt("truncated entry page");
      if (uint64_t hold = absl::big_endian::Load64(v.data()); hold != 0) c->SetHold(pos, hold);
      v.remove_prefix(8);
    }
    if (c->items() > 0) {
      if (v.size() < 2) return Corrupt("truncated entry page");
      c->item_of.push_back(static_cast<uint8_t>(v[0]));
      c->quantity_of.push_back(static_cast<uint8_t>(v[1]));
      v.remove_prefix(2);
    }
    if (status == EntryStatus::kAdmitted) {
      if (v.size() < 8) return Corrupt("truncated entry page");
      const uint64_t until = absl::big_endian::Load64(v.data());
      c->choose_until.emplace(pos, until);
      c->choose_order.emplace(until, pos);
      v.remove_prefix(8);
    }
    if (!c->position_of.emplace(UserKey(c->names.back()), c->by_position.size()).second)
      return Corrupt(absl::StrCat("campaign ", std::string(campaign), ": user at two positions"));
  }
  return absl::OkStatus();
}

absl::Status LoadCampaign(std::string_view v, const EngineConfig& config, EngineState* state) {
  auto c = std::make_unique<CampaignState>();
  if (!c->snap.ParseFromArray(v.data(), static_cast<int>(v.size())))
    return Corrupt("campaign snapshot does not parse");
  if (!config.seed_secret.empty()) {
    c->seed = DeriveSeed(config.seed_secret, c->snap.campaign_id(), c->snap.config().seed_nonce());
    Hash commitment = SeedCommitment(c->seed);
    if (c->snap.seed_commitment() !=
        std::string_view(reinterpret_cast<const char*>(commitment.data()), commitment.size()))
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", c->snap.campaign_id(),
                       ": stored seed commitment does not match this engine's seed secret"));
    c->drawer = Drawer(c->seed);
  } else if (c->snap.revealed() && c->snap.revealed_seed().size() == c->seed.size()) {
    std::copy(c->snap.revealed_seed().begin(), c->snap.revealed_seed().end(), c->seed.begin());
  }
  c->by_position.reserve(c->snap.last_position());
  c->status.reserve(c->snap.last_position());
  c->entered_ms.reserve(c->snap.last_position());
  c->item_waitlists.resize(c->items());
  std::string id = c->snap.campaign_id();
  state->campaigns.emplace(std::move(id), std::move(c));
  return absl::OkStatus();
}

// A pre-queued user (and, with items, its ask) in arrival order.
absl::Status LoadPrequeued(std::string_view key, std::string_view user, EngineState* state) {
  std::string_view campaign;
  uint64_t idx;
  if (!SplitItem(key, &campaign, &idx)) return Corrupt("malformed pre-queue key");
  CampaignState* c = state->Find(campaign);
  if (c == nullptr)
    return Corrupt(absl::StrCat("pre-queue of unknown campaign ", std::string(campaign)));
  ++c->prequeue_persisted;
  std::pair<size_t, uint32_t> ask{0, 0};
  const size_t zero = user.find('\0');
  if (zero != std::string_view::npos) {
    if (user.size() != zero + 3) return Corrupt("malformed pre-queue ask");
    ask = {static_cast<uint8_t>(user[zero + 1]), static_cast<uint8_t>(user[zero + 2])};
    user = user.substr(0, zero);
  }
  if (c->position_of.contains(absl::string_view(user.data(), user.size())))
    return absl::OkStatus();  // already given a position
  if (zero != std::string_view::npos) c->prequeue_asks.push_back(ask);
  c->names.emplace_back(user);
  uint32_t name = static_cast<uint32_t>(c->names.size() - 1);
  c->position_of.emplace(UserKey(c->names.back()), kPrequeuedBit | name);
  c->prequeue.push_back(name);
  return absl::OkStatus();
}

absl::Status LoadWaitlist(std::string_view key, std::string_view v, EngineState* state) {
  std::string_view campaign;
  uint64_t n;
  if (!SplitItem(key, &campaign, &n) || v.size() % 8 != 0)
    return Corrupt("malformed waitlist record");
  CampaignState* c = state->Find(campaign);
  if (c == nullptr) return Corrupt("waitlist of an unknown campaign");
  if (n >= std::max<size_t>(1, c->items())) return Corrupt("waitlist of an unknown item");
  std::vector<uint64_t>& list = c->items() == 0 ? c->waitlist : c->item_waitlists[n];
  for (size_t i = 0; i < v.size(); i += 8) list.push_back(absl::big_endian::Load64(v.data() + i));
  return absl::OkStatus();
}

absl::Status LoadRejected(std::string_view key, std::string_view v, EngineState* state) {
  std::string_view rest = key.substr(5);
  size_t zero = rest.find('\0');
  if (zero == std::string_view::npos || v.size() != 1)
    return Corrupt("malformed rejected-user key");
  CampaignState* c = state->Find(rest.substr(0, zero));
  if (c == nullptr) return Corrupt("rejected user of an unknown campaign");
  c->rejected_users.emplace(std::string(rest.substr(zero + 1)), static_cast<uint8_t>(v[0]));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<KvStore>> kv = OpenRocksKv(path);
  if (!kv.ok()) return kv.status();
  return std::make_unique<StateStore>(std::move(*kv));
}

absl::StatusOr<pb::Checkpoint> StateStore::ReadCheckpoint(int partition) {
  pb::Checkpoint cp;
  absl::StatusOr<std::optional<std::string>> value = kv_->Get(Prefix('k', partition));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return cp;
  if (!cp.ParseFromString(**value)) return Corrupt("checkpoint does not parse");
  return cp;
}

absl::Status StateStore::Load(int partition, const EngineConfig& config, EngineState* state,
                              pb::Checkpoint* cp) {
  *state = EngineState();
  absl::StatusOr<pb::Checkpoint> stored = ReadCheckpoint(partition);
  if (!stored.ok()) return stored.status();
  *cp = std::move(*stored);
  state->next_sequence = cp->next_sequence() ? cp->next_sequence() : 1;
  if (!cp->digest().empty()) {
    const uint32_t version = cp->digest_version() == 0 ? 1 : cp->digest_version();
    if (version != kDigestVersion)
      return absl::FailedPreconditionError(absl::StrCat(
          "state store partition ", partition, ": its checkpoint digest is version ", version,
          " and this engine chains version ", kDigestVersion,
          " (engine/LOG_FORMAT.md); the state store is a cache of the ledger: delete it "
          "(<data-dir>/state) and the engine refolds the ledger into a new one"));
    if (cp->digest().size() != state->digest.size()) return Corrupt("digest has a wrong size");
    std::copy(cp->digest().begin(), cp->digest().end(), state->digest.begin());
  }

  absl::Status st = kv_->Scan(Prefix('c', partition), [&](std::string_view, std::string_view v) {
    return LoadCampaign(v, config, state);
  });
  if (st.ok())
    st = kv_->Scan(Prefix('e', partition), [&](std::string_view key, std::string_view v) {
      return LoadEntryPage(key, v, state);
    });
  if (st.ok())
    st = kv_->Scan(Prefix('q', partition), [&](std::string_view key, std::string_view v) {
      return LoadPrequeued(key, v, state);
    });
  if (st.ok())
    st = kv_->Scan(Prefix('w', partition), [&](std::string_view key, std::string_view v) {
      return LoadWaitlist(key, v, state);
    });
  if (st.ok())
    st = kv_->Scan(Prefix('r', partition), [&](std::string_view key, std::string_view v) {
      return LoadRejected(key, v, state);
    });
  if (st.ok())
    st = kv_->Scan(Prefix('i', partition), [&](std::string_view key, std::string_view v) {
      pb::IdempotencyEntry e;
      if (key.size() != 13 || !e.ParseFromArray(v.data(), static_cast<int>(v.size())))
        return Corrupt("malformed idempotency key record");
      state->idempotency.Restore(
          absl::big_endian::Load64(key.data() + 5),
          {e.actor(), e.campaign_id(), e.key(), e.request_hash(), e.command_offset(), e.time_ms()});
      return absl::OkStatus();
    });
  if (!st.ok()) return st;
  state->idempotency.ClearChanges();
  for (auto& [id, c] : state->campaigns) {
    if (c->by_position.size() != c->snap.last_position() ||
        c->prequeue.size() != c->snap.prequeued())
      return Corrupt(absl::StrCat("campaign ", id, ": entries disagree with the snapshot"));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Commit(int partition, EngineState* state, const pb::Checkpoint& cp,
                                bool sync) {
  // The caller's promise: the checkpoint describes this very state.
  TL_CHECK_EQ(cp.next_sequence(), state->next_sequence);
  TL_CHECK_EQ(state->answer.left, 0u);  // the digest is whole only between command answers
  KvStore::Batch batch;
  auto put = [&batch](std::string key, std::string v) {
    batch.push_back({KvStore::Op::kPut, std::move(key), std::move(v)});
  };
  std::string value;
  for (auto& [id, c] : state->campaigns) {
    if (!c->dirty) continue;
    c->snap.SerializeToString(&value);
    std::string ckey = Prefix('c', partition);
    ckey.append(id);
    put(ckey, value);
    std::vector<uint64_t>& dirty = c->dirty_positions;
    for (uint64_t& pos : dirty) pos = (pos - 1) / kPageEntries;
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (uint64_t page : dirty) {
      value.assign(1, kPageFormat);
      uint64_t last = std::min(c->snap.last_position(), (page + 1) * kPageEntries);
      for (uint64_t pos = page * kPageEntries + 1; pos <= last; ++pos) {
        std::string_view user = c->user_at(pos);
        // One length byte: decide admits no user id over limits.user_id_bytes_max (128).
        TL_CHECK_LE(user.size(), 255u);
        value.push_back(static_cast<char>(c->status[pos - 1]));
        value.push_back(static_cast<char>(static_cast<uint8_t>(user.size())));
        value.append(user);
        AppendBig64(&value, c->entered_ms[pos - 1]);
        if (c->status[pos - 1] == EntryStatus::kWon) AppendBig64(&value, c->HoldOf(pos));
        if (c->items() > 0) {
          value.push_back(static_cast<char>(c->item_of[pos - 1]));
          value.push_back(static_cast<char>(c->quantity_of[pos - 1]));
        }
        if (c->status[pos - 1] == EntryStatus::kAdmitted)
          AppendBig64(&value, c->choose_until.at(pos));
      }
      put(ItemKey('e', partition, id, page), value);
    }
    if (c->waitlist_dirty) {
      for (size_t i = 0; i < std::max<size_t>(1, c->items()); ++i) {
        value.clear();
        for (uint64_t pos : c->WaitlistOf(i)) AppendBig64(&value, pos);
        put(ItemKey('w', partition, id, i), value);
      }
    }
    for (const std::string& user : c->dirty_rejected) {
      std::string key = Prefix('r', partition);
      key.append(id).push_back('\0');
      key.append(user);
      auto it = c->rejected_users.find(user);
      if (it == c->rejected_users.end()) {
        batch.push_back({KvStore::Op::kDelete, key, {}});
      } else {
        put(key, std::string(1, static_cast<char>(it->second)));
      }
    }
    if (c->snap.opened() && c->snap.prequeued() == 0) {
      if (c->prequeue_persisted > 0) {
        batch.push_back({KvStore::Op::kDeleteRange, ItemKey('q', partition, id, 0),
                         ItemKey('q', partition, id, UINT64_MAX)});
        c->prequeue_persisted = 0;
      }
    } else if (!c->snap.opened()) {
      for (size_t i = c->prequeue_persisted; i < c->prequeue.size(); ++i) {
        value = c->names[c->prequeue[i]];
        if (i < c->prequeue_asks.size()) {  // '\0' never occurs in a user id
          value.push_back('\0');
          value.push_back(static_cast<char>(c->prequeue_asks[i].first));
          value.push_back(static_cast<char>(c->prequeue_asks[i].second));
        }
        put(ItemKey('q', partition, id, i), value);
      }
      c->prequeue_persisted = c->prequeue.size();
    }
  }
  // Idempotency-Keys, one record each under their serial (age order).
  const IdempotencyTable::Changes& keys = state->idempotency.changes();
  for (uint64_t serial : keys.removed)
    batch.push_back({KvStore::Op::kDelete, SerialKey('i', partition, serial), {}});
  for (uint64_t serial : keys.added) {
    auto it = state->idempotency.entries().find(serial);
    if (it == state->idempotency.entries().end()) continue;  // removed again since
    const IdempotencyTable::Entry& e = it->second;
    pb::IdempotencyEntry stored;
    stored.set_actor(e.actor);
    stored.set_campaign_id(e.campaign_id);
    stored.set_key(e.key);
    stored.set_request_hash(e.request_hash);
    stored.set_command_offset(e.command_offset);
    stored.set_time_ms(e.time_ms);
    stored.SerializeToString(&value);
    put(SerialKey('i', partition, serial), value);
  }
  cp.SerializeToString(&value);
  put(Prefix('k', partition), value);
  if (absl::Status st = kv_->Write(batch, sync); !st.ok()) return st;
  for (auto& [id, c] : state->campaigns) {
    c->dirty = false;
    c->waitlist_dirty = false;
    c->dirty_positions.clear();
    c->dirty_rejected.clear();
  }
  state->idempotency.ClearChanges();
  return absl::OkStatus();
}

}  // namespace tl
