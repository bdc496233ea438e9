#include "engine/core/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tl {
namespace {

// RFC 6962's test leaves (certificate-transparency merkle_tree_test) and the
// roots of their prefixes.
const std::vector<std::string> kLeaves = {
    "",
    std::string(1, '\x00'),
    "\x10",
    "\x20\x21",
    "\x30\x31",
    "\x40\x41\x42\x43",
    "\x50\x51\x52\x53\x54\x55\x56\x57",
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
const char* kRoots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

TEST(Merkle, RootsMatchTheCertificateTransparencyVectors) {
  for (size_t n = 1; n <= kLeaves.size(); ++n) {
    std::vector<Hash> hashes;
    for (size_t i = 0; i < n; ++i) hashes.push_back(MerkleLeafHash(kLeaves[i]));
    EXPECT_EQ(ToHex(MerkleRoot(n, [&](uint64_t i) { return hashes[i]; })), kRoots[n - 1]) << n;
    EXPECT_EQ(ToHex(MerkleTree(hashes).Root()), kRoots[n - 1]) << n;
  }
  EXPECT_EQ(ToHex(MerkleRoot(0, nullptr)), ToHex(Sha256("")));
}

TEST(Merkle, TheEntryLeafIsTheDocumentedText) {
  EXPECT_EQ(MerkleLeaf(42, 1700000000123, "alice"), "ticketledger/entry/v1|42|1700000000123|alice");
  // Three entries, checked against an independent implementation (Python hashlib).
  std::vector<Hash> h = {MerkleLeafHash(MerkleLeaf(1, 1000, "alice")),
                         MerkleLeafHash(MerkleLeaf(2, 1001, "bob")),
                         MerkleLeafHash(MerkleLeaf(3, 1002, "carol"))};
  EXPECT_EQ(ToHex(MerkleTree(h).Root()),
            "c3f45f9c24da80d2289a9fa64ed40bb13211e8a29970ffcc7777ff52ac17cf24");
}

TEST(Merkle, EveryProofOfEveryTreeSizeVerifiesAndNoTamperedOneDoes) {
  for (uint64_t n = 1; n <= 70; ++n) {
    std::vector<Hash> hashes;
    for (uint64_t i = 0; i < n; ++i) hashes.push_back(MerkleLeafHash(MerkleLeaf(i + 1, i, "u")));
    MerkleTree tree(hashes);
    const Hash root = tree.Root();
    ASSERT_EQ(root, MerkleRoot(n, [&](uint64_t i) { return hashes[i]; })) << n;
    for (uint64_t i = 0; i < n; ++i) {
      std::vector<Hash> path = tree.Proof(i);
      ASSERT_TRUE(VerifyInclusion(i, n, hashes[i], path, root)) << n << " " << i;
      // Another leaf, another index, a flipped bit or a short path: refused.
      EXPECT_FALSE(VerifyInclusion(i, n, MerkleLeafHash("other"), path, root));
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, hashes[i], path, root));
      }
      if (!path.empty()) {
        std::vector<Hash> bad = path;
        bad[0][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(i, n, hashes[i], bad, root));
        bad = path;
        bad.pop_back();
        EXPECT_FALSE(VerifyInclusion(i, n, hashes[i], bad, root));
      }
    }
    EXPECT_FALSE(VerifyInclusion(n, n, hashes[0], tree.Proof(0), root));
  }
}

}  // namespace
}  // namespace tl
