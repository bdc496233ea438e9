// Prints, as JSON, receipts and at-close draws made by the engine's own code
// (engine/core/merkle.h MerkleTree::Proof, engine/core/draw.h AtCloseKey and
// Drawer), so that the pages' re-implementation (api/web/static/js/merkle.js,
// draw.js) is checked against it by tests/browser/unit/merkle.test.mjs.
// engine_vectors.json beside it is this program's output, for running the
// Node test by hand without a build.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/core/draw.h"
#include "engine/core/merkle.h"

int main() {
  using tl::Hash;
  struct Entry {
    uint64_t position, time_ms;
    std::string user;
  };
  const char* users[] = {"alice", "bob",   "carol", "dave", "erin",    "frank",
                         "grace", "heidi", "ivan",  "judy", "mallory", "\xed\x95\x9c\xea\xb5\xad"};
  std::vector<Entry> entries;
  for (uint64_t i = 0; i < 12; ++i) entries.push_back({i + 1, 1764500000000 + i * 37, users[i]});
  std::vector<Hash> hashes;
  for (const Entry& e : entries)
    hashes.push_back(tl::MerkleLeafHash(tl::MerkleLeaf(e.position, e.time_ms, e.user)));
  const tl::MerkleTree tree(hashes);
  const std::string root = tl::ToHex(tree.Root());
  std::printf("{\n \"merkle\": {\"root\": \"%s\", \"tree_size\": %zu, \"receipts\": [\n",
              root.c_str(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    std::printf("  {\"position\": %" PRIu64 ", \"entry_time_ms\": %" PRIu64
                ", \"user\": \"%s\", \"leaf\": \"%s\", \"leaf_hash\": \"%s\", \"index\": %zu, "
                "\"tree_size\": %zu, "
                "\"root\": \"%s\", \"path\": [",
                e.position, e.time_ms, e.user.c_str(),
                tl::MerkleLeaf(e.position, e.time_ms, e.user).c_str(), tl::ToHex(hashes[i]).c_str(),
                i, entries.size(), root.c_str());
    const std::vector<Hash> path = tree.Proof(i);
    for (size_t j = 0; j < path.size(); ++j)
      std::printf("%s\"%s\"", j ? ", " : "", tl::ToHex(path[j]).c_str());
    std::printf("]}%s\n", i + 1 < entries.size() ? "," : "");
  }
  std::printf(" ]},\n");

  tl::Seed seed;
  for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(i * 7 + 1);
  const std::string entropy = "drand quicknet round 1234567: 9a0f\xe2\x80\xa6";
  const tl::Seed key = tl::AtCloseKey(seed, true, entropy);
  const tl::Drawer drawer(key);
  std::printf(
      " \"at_close\": {\"seed\": \"%s\", \"entropy_value\": \"%s\", \"key\": \"%s\", \"draws\": [",
      tl::ToHex(seed).c_str(), entropy.c_str(), tl::ToHex(key).c_str());
  for (int i = 0; i < 3; ++i) {
    std::printf("%s{\"campaign\": \"c1\", \"position\": %d, \"user\": \"%s\", \"value\": \"%" PRIu64
                "\"}",
                i ? ", " : "", i + 1, users[i], drawer.DrawValue("c1", i + 1, users[i]));
  }
  std::printf("], \"uncommitted_key\": \"%s\"}\n}\n",
              tl::ToHex(tl::AtCloseKey(seed, false, "")).c_str());
  return 0;
}
