#include "engine/runtime/state_store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

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

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("state store ", what, ": ", s.ToString()));
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
bool SplitItem(rocksdb::Slice key, std::string_view* campaign, uint64_t* n) {
  std::string_view rest(key.data() + 5, key.size() - 5);
  if (rest.size() < 9 || rest[rest.size() - 9] != '\0') return false;
  *campaign = rest.substr(0, rest.size() - 9);
  *n = absl::big_endian::Load64(rest.data() + rest.size() - 8);
  return true;
}

// Reads the entry pages under prefix into the campaigns already loaded.
absl::Status LoadEntryPages(rocksdb::Iterator* it, const std::string& prefix, EngineState* state) {
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view campaign;
    uint64_t page;
    if (!SplitItem(it->key(), &campaign, &page)) return Corrupt("malformed entry page key");
    CampaignState* c = state->Find(campaign);
    if (c == nullptr)
      return Corrupt(absl::StrCat("entries of unknown campaign ", std::string(campaign)));
    if (page * kPageEntries != c->by_position.size())
      return Corrupt(
          absl::StrCat("campaign ", std::string(campaign), ": entry page ", page, " out of order"));
    std::string_view v = it->value().ToStringView();
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
      if (status == EntryStatus::kWon) {
        if (v.size() < 8) return Corrupt("truncated entry page");
        if (uint64_t hold = absl::big_endian::Load64(v.data()); hold != 0)
          c->SetHold(c->by_position.size(), hold);
        v.remove_prefix(8);
      }
      if (!c->position_of.emplace(UserKey(c->names.back()), c->by_position.size()).second)
        return Corrupt(absl::StrCat("campaign ", std::string(campaign), ": user at two positions"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open at ", path));
  return std::unique_ptr<StateStore>(new StateStore(std::unique_ptr<rocksdb::DB>(raw)));
}

absl::StatusOr<pb::Checkpoint> StateStore::ReadCheckpoint(int partition) {
  pb::Checkpoint cp;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Prefix('k', partition), &value);
  if (s.IsNotFound()) return cp;
  if (!s.ok()) return FromRocks(s, "read checkpoint");
  if (!cp.ParseFromString(value)) return Corrupt("checkpoint does not parse");
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

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string prefix = Prefix('c', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto c = std::make_unique<CampaignState>();
    if (!c->snap.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Corrupt("campaign snapshot does not parse");
    if (!config.seed_secret.empty()) {
      c->seed =
          DeriveSeed(config.seed_secret, c->snap.campaign_id(), c->snap.config().seed_nonce());
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
    std::string id = c->snap.campaign_id();
    state->campaigns.emplace(std::move(id), std::move(c));
  }
  prefix = Prefix('e', partition);
  if (absl::Status st = LoadEntryPages(it.get(), prefix, state); !st.ok()) return st;
  prefix = Prefix('q', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view campaign;
    uint64_t idx;
    if (!SplitItem(it->key(), &campaign, &idx)) return Corrupt("malformed pre-queue key");
    CampaignState* c = state->Find(campaign);
    if (c == nullptr)
      return Corrupt(absl::StrCat("pre-queue of unknown campaign ", std::string(campaign)));
    ++c->prequeue_persisted;
    std::string_view user = it->value().ToStringView();
    if (c->position_of.contains(absl::string_view(user.data(), user.size())))
      continue;  // already given a position
    c->names.emplace_back(user);
    uint32_t name = static_cast<uint32_t>(c->names.size() - 1);
    c->position_of.emplace(UserKey(c->names.back()), kPrequeuedBit | name);
    c->prequeue.push_back(name);
  }
  prefix = Prefix('w', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view campaign;
    uint64_t n;
    std::string_view v = it->value().ToStringView();
    if (!SplitItem(it->key(), &campaign, &n) || v.size() % 8 != 0)
      return Corrupt("malformed waitlist record");
    CampaignState* c = state->Find(campaign);
    if (c == nullptr) return Corrupt("waitlist of an unknown campaign");
    for (size_t i = 0; i < v.size(); i += 8)
      c->waitlist.push_back(absl::big_endian::Load64(v.data() + i));
  }
  prefix = Prefix('r', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest(it->key().data() + 5, it->key().size() - 5);
    size_t zero = rest.find('\0');
    if (zero == std::string_view::npos || it->value().size() != 1)
      return Corrupt("malformed rejected-user key");
    CampaignState* c = state->Find(rest.substr(0, zero));
    if (c == nullptr) return Corrupt("rejected user of an unknown campaign");
    c->rejected_users.emplace(std::string(rest.substr(zero + 1)),
                              static_cast<uint8_t>(it->value()[0]));
  }
  prefix = Prefix('i', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    pb::IdempotencyEntry e;
    if (it->key().size() != 13 ||
        !e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Corrupt("malformed idempotency key record");
    state->idempotency.Restore(
        absl::big_endian::Load64(it->key().data() + 5),
        {e.actor(), e.campaign_id(), e.key(), e.request_hash(), e.command_offset(), e.time_ms()});
  }
  state->idempotency.ClearChanges();
  if (!it->status().ok()) return FromRocks(it->status(), "load");
  for (auto& [id, c] : state->campaigns) {
    if (c->by_position.size() != c->snap.last_position() ||
        c->prequeue.size() != c->snap.prequeued() || c->waitlist.size() != c->snap.waitlisted())
      return Corrupt(absl::StrCat("campaign ", id, ": entries disagree with the snapshot"));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Commit(int partition, EngineState* state, const pb::Checkpoint& cp,
                                bool sync) {
  // The caller's promise: the checkpoint describes this very state.
  TL_CHECK_EQ(cp.next_sequence(), state->next_sequence);
  TL_CHECK_EQ(state->answer.left, 0u);  // the digest is whole only between command answers
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& [id, c] : state->campaigns) {
    if (!c->dirty) continue;
    c->snap.SerializeToString(&value);
    std::string ckey = Prefix('c', partition);
    ckey.append(id);
    batch.Put(ckey, value);
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
      }
      batch.Put(ItemKey('e', partition, id, page), value);
    }
    if (c->waitlist_dirty) {
      value.clear();
      for (uint64_t pos : c->waitlist) AppendBig64(&value, pos);
      batch.Put(ItemKey('w', partition, id, 0), value);
    }
    for (const std::string& user : c->dirty_rejected) {
      std::string key = Prefix('r', partition);
      key.append(id).push_back('\0');
      key.append(user);
      auto it = c->rejected_users.find(user);
      if (it == c->rejected_users.end()) {
        batch.Delete(key);
      } else {
        batch.Put(key, std::string(1, static_cast<char>(it->second)));
      }
    }
    if (c->snap.opened() && c->snap.prequeued() == 0) {
      if (c->prequeue_persisted > 0) {
        batch.DeleteRange(ItemKey('q', partition, id, 0), ItemKey('q', partition, id, UINT64_MAX));
        c->prequeue_persisted = 0;
      }
    } else if (!c->snap.opened()) {
      for (size_t i = c->prequeue_persisted; i < c->prequeue.size(); ++i) {
        batch.Put(ItemKey('q', partition, id, i), c->names[c->prequeue[i]]);
      }
      c->prequeue_persisted = c->prequeue.size();
    }
  }
  // Idempotency-Keys, one record each under their serial (age order).
  const IdempotencyTable::Changes& keys = state->idempotency.changes();
  for (uint64_t serial : keys.removed) batch.Delete(SerialKey('i', partition, serial));
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
    batch.Put(SerialKey('i', partition, serial), value);
  }
  cp.SerializeToString(&value);
  batch.Put(Prefix('k', partition), value);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (absl::Status st = FromRocks(db_->Write(wo, &batch), "commit"); !st.ok()) return st;
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
