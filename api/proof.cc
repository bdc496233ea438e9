// Receipts: GET /v1/campaigns/{id}/entries/me/proof — the caller's Merkle
// inclusion proof in the campaign's closing root (CampaignClosed.merkle_root,
// engine/core/merkle.h). The tree of a closed campaign never changes, so it
// is built once, on the first proof asked of it, and kept (the most recently
// used trees, up to kProofLeavesMax leaves together). A tree that does not
// reproduce the ledger's root is never served: 500, and a log line.
#include <list>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/api.h"
#include "engine/core/hash.h"
#include "engine/core/merkle.h"
#include "engine/logger.h"

namespace tl::api {

using json = nlohmann::json;

namespace {

// Leaves the cached trees hold together (a tree is about 64 bytes a leaf):
// 4M leaves, 256 MB. A tree bigger than this is still built and served, and
// then stays the only one cached.
constexpr uint64_t kProofLeavesMax = uint64_t{4} << 20;

}  // namespace

struct Api::ProofTrees {
  absl::Mutex mu;
  // Campaign id -> its tree; `lru` front = most recently used.
  std::map<std::string, std::shared_ptr<const MerkleTree>> trees ABSL_GUARDED_BY(mu);
  std::list<std::string> lru ABSL_GUARDED_BY(mu);
  uint64_t leaves ABSL_GUARDED_BY(mu) = 0;
  // One build at a time: a build holds a copy of every leaf.
  absl::Mutex build_mu;

  std::shared_ptr<const MerkleTree> Find(const std::string& id) {
    absl::MutexLock lock(&mu);
    auto it = trees.find(id);
    if (it == trees.end()) return nullptr;
    lru.remove(id);
    lru.push_front(id);
    return it->second;
  }
  void Add(const std::string& id, std::shared_ptr<const MerkleTree> tree) {
    absl::MutexLock lock(&mu);
    if (trees.contains(id)) return;
    leaves += tree->size();
    trees.emplace(id, std::move(tree));
    lru.push_front(id);
    while (leaves > kProofLeavesMax && lru.size() > 1) {
      auto it = trees.find(lru.back());
      leaves -= it->second->size();
      trees.erase(it);
      lru.pop_back();
    }
  }
};

std::shared_ptr<Api::ProofTrees> Api::NewProofTrees() { return std::make_shared<ProofTrees>(); }

void Api::GetProof(const CallPtr& c) {
  if (!Authenticate(c, false)) return;
  bool closed = false, has_root = false, entered = false;
  uint64_t position = 0, entry_time_ms = 0, size = 0;
  std::string root;
  if (!WithCampaign(c, [&](const CampaignState& cs) {
        closed = cs.snap.closed();
        has_root = !cs.snap.merkle_root().empty();
        root = cs.snap.merkle_root();
        size = cs.snap.merkle_leaves();
        auto it = cs.position_of.find(c->claims.sub);
        if (it == cs.position_of.end() || (it->second & kPrequeuedBit)) return;
        entered = true;
        position = it->second;
        if (position <= cs.entered_ms.size()) entry_time_ms = cs.entered_ms[position - 1];
      }))
    return;
  if (!closed)
    return c->Error(409, "not_closed",
                    "the campaign is not closed yet: its entries' Merkle root is fixed at close");
  if (!has_root)
    return c->Error(409, "no_receipts",
                    "this campaign was closed before receipts existed: its close carries no "
                    "Merkle root");
  if (!entered || position > size)
    return c->Error(404, "not_entered", "no entry for this user in this campaign");
  // Building a tree hashes every entry: off the event loops.
  options_.offload([this, c, position, entry_time_ms, size, root] {
    std::shared_ptr<const MerkleTree> tree = proof_trees_->Find(c->campaign);
    if (!tree) {
      absl::MutexLock build(&proof_trees_->build_mu);
      tree = proof_trees_->Find(c->campaign);
      if (!tree) {
        // Copied under the partition's lock, hashed outside it.
        std::vector<std::string> users;
        std::vector<uint64_t> times;
        backend_->WithState(c->partition, [&](const EngineState& s, uint64_t) {
          const CampaignState* cs = s.Find(c->campaign);
          if (!cs || cs->entered_ms.size() < size) return;
          users.reserve(size);
          times.assign(cs->entered_ms.begin(), cs->entered_ms.begin() + size);
          for (uint64_t p = 1; p <= size; ++p) users.push_back(cs->user_at(p));
        });
        if (users.size() != size) {
          Logger("http")->error(
              "proof: campaign {}: the fold holds fewer entries than its {} "
              "Merkle leaves",
              c->campaign, size);
          return c->Error(500, "receipt_unavailable",
                          "the entries of this campaign's Merkle tree are not all in the fold");
        }
        std::vector<Hash> leaves(size);
        for (uint64_t i = 0; i < size; ++i)
          leaves[i] = MerkleLeafHash(MerkleLeaf(i + 1, times[i], users[i]));
        auto built = std::make_shared<const MerkleTree>(std::move(leaves));
        const Hash got = built->Root();
        if (std::string_view(reinterpret_cast<const char*>(got.data()), got.size()) != root) {
          Logger("http")->error(
              "proof: campaign {}: the tree of its {} entries has root {}, its CampaignClosed "
              "merkle_root is {}: not serving proofs",
              c->campaign, size, ToHex(got), ToHex(root));
          return c->Error(500, "receipt_mismatch",
                          "this server's tree of the entries does not reproduce the ledger's "
                          "Merkle root; the operator is told");
        }
        proof_trees_->Add(c->campaign, built);
        tree = std::move(built);
      }
    }
    const std::string leaf = MerkleLeaf(position, entry_time_ms, c->claims.sub);
    json path = json::array();
    for (const Hash& h : tree->Proof(position - 1)) path.push_back(ToHex(h));
    c->Json(200, {{"campaign", c->campaign},
                  {"user", c->claims.sub},
                  {"position", position},
                  {"entry_time_ms", entry_time_ms},
                  {"leaf", leaf},
                  {"leaf_hash", ToHex(MerkleLeafHash(leaf))},
                  {"index", position - 1},
                  {"tree_size", size},
                  {"path", path},
                  {"root", ToHex(root)}});
  });
}

}  // namespace tl::api
