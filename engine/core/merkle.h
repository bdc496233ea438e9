// Receipts: a SHA-256 Merkle tree over a campaign's entries, so a user can
// prove their entry is in the ledger's closing root, and an outsider can
// check the proof with nothing but SHA-256.
//
// The tree is RFC 9162's (Certificate Transparency v2, section 2.1):
//   leaf hash   = SHA-256(0x00 || leaf)
//   node hash   = SHA-256(0x01 || left || right)
//   MTH({})     = SHA-256("")
//   MTH(D[n])   = MTH(D[0:k]) combined with MTH(D[k:n]), k the largest power
//                 of two smaller than n
// and a campaign's leaves are its entries in position order, 1..n:
//   leaf        = "ticketledger/entry/v1|" position "|" entry_time_ms "|" user
// position and entry time (the time_ms of the QueueEntered event that gave
// the position) in decimal ASCII; the user id comes last, so the text is
// unambiguous. CampaignClosed.merkle_root is MTH over every position at
// close. An inclusion proof is RFC 9162's audit path (siblings from the leaf
// up); VerifyInclusion is the RFC's verification algorithm (2.1.3.2).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/hash.h"

namespace tl {

std::string MerkleLeaf(uint64_t position, uint64_t entry_time_ms, std::string_view user);
Hash MerkleLeafHash(std::string_view leaf);
Hash MerkleNodeHash(const Hash& left, const Hash& right);

// MTH over leaf hashes 0..n-1; `leaf_hash(i)` gives the i-th (0-based).
Hash MerkleRoot(uint64_t n, const std::function<Hash(uint64_t)>& leaf_hash);

// A whole tree kept in memory: every level, for roots and proofs of a closed
// campaign (2n hashes). Built once; immutable after.
class MerkleTree {
 public:
  explicit MerkleTree(std::vector<Hash> leaf_hashes);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash Root() const;
  // The audit path of leaf `index` (0-based, < size()).
  std::vector<Hash> Proof(uint64_t index) const;

 private:
  Hash Subtree(uint64_t begin, uint64_t end) const;  // MTH(D[begin:end])
  std::vector<std::vector<Hash>> levels_;            // levels_[0]: leaves
};

// RFC 9162 2.1.3.2: true iff `path` proves leaf `index` of a tree of `size`
// leaves with this leaf hash has `root`.
bool VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                     const std::vector<Hash>& path, const Hash& root);

}  // namespace tl
