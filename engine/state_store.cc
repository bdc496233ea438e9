#include "engine/state_store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "engine/draw.h"

namespace tl {
namespace {

constexpr uint64_t kPrequeuedBit = uint64_t{1} << 63;

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

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("state store ", what, ": ", s.ToString()));
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
    if (cp->digest().size() != state->digest.size()) return Corrupt("digest has a wrong size");
    std::copy(cp->digest().begin(), cp->digest().end(), state->digest.begin());
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string prefix = Prefix('c', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto c = std::make_unique<CampaignState>();
    if (!c->snap.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Corrupt("campaign snapshot does not parse");
    c->seed = DeriveSeed(config.seed_secret, c->snap.campaign_id());
    Hash commitment = SeedCommitment(c->seed);
    if (c->snap.seed_commitment() !=
        std::string_view(reinterpret_cast<const char*>(commitment.data()), commitment.size()))
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", c->snap.campaign_id(),
                       ": stored seed commitment does not match this engine's seed secret"));
    c->drawer = Drawer(c->seed);
    c->by_position.reserve(c->snap.last_position());
    c->status.reserve(c->snap.last_position());
    std::string id = c->snap.campaign_id();
    state->campaigns.emplace(std::move(id), std::move(c));
  }
  prefix = Prefix('e', partition);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view campaign;
    uint64_t pos;
    if (!SplitItem(it->key(), &campaign, &pos) || it->value().size() < 2)
      return Corrupt("malformed entry key or value");
    CampaignState* c = state->Find(campaign);
    if (c == nullptr)
      return Corrupt(absl::StrCat("entry for unknown campaign ", std::string(campaign)));
    if (pos != c->by_position.size() + 1)
      return Corrupt(absl::StrCat("campaign ", std::string(campaign), ": entry position ", pos,
                                  " out of order"));
    auto status = static_cast<EntryStatus>(it->value()[0]);
    if (static_cast<uint8_t>(status) > static_cast<uint8_t>(EntryStatus::kCancelled))
      return Corrupt("unknown entry status");
    c->names.emplace_back(it->value().data() + 1, it->value().size() - 1);
    c->by_position.push_back(static_cast<uint32_t>(c->names.size() - 1));
    c->status.push_back(status);
    if (!c->position_of.emplace(c->names.back(), pos).second)
      return Corrupt(absl::StrCat("campaign ", std::string(campaign), ": user at two positions"));
  }
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
    if (c->position_of.contains(user)) continue;  // already given a position
    c->names.emplace_back(user);
    uint32_t name = static_cast<uint32_t>(c->names.size() - 1);
    c->position_of.emplace(c->names.back(), kPrequeuedBit | name);
    c->prequeue.push_back(name);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "load");
  for (auto& [id, c] : state->campaigns) {
    if (c->by_position.size() != c->snap.last_position() ||
        c->prequeue.size() != c->snap.prequeued())
      return Corrupt(absl::StrCat("campaign ", id, ": entries disagree with the snapshot"));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Commit(int partition, EngineState* state, const pb::Checkpoint& cp,
                                bool sync) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (auto& [id, c] : state->campaigns) {
    if (!c->dirty) continue;
    c->snap.SerializeToString(&value);
    std::string ckey = Prefix('c', partition);
    ckey.append(id);
    batch.Put(ckey, value);
    for (uint64_t pos : c->dirty_positions) {
      value.assign(1, static_cast<char>(c->status[pos - 1]));
      value.append(c->user_at(pos));
      batch.Put(ItemKey('e', partition, id, pos), value);
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
  cp.SerializeToString(&value);
  batch.Put(Prefix('k', partition), value);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (absl::Status st = FromRocks(db_->Write(wo, &batch), "commit"); !st.ok()) return st;
  for (auto& [id, c] : state->campaigns) {
    c->dirty = false;
    c->dirty_positions.clear();
  }
  return absl::OkStatus();
}

}  // namespace tl
