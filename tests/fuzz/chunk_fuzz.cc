// The embedded log's chunk decoding (engine/log/record_frame.h): the bytes
// RocksDB hands back for one Append, as the log reads them. A chunk that is
// not exactly EncodeChunk of its records is DATA_LOSS, never a crash; one that
// decodes re-encodes to the same bytes, and any window of offsets decodes to
// the same records as the whole chunk.
//
// A checksum guards the chunk, so random bytes rarely get past it: each input
// is decoded as is, and again with its checksum made right, so the decoding of
// the records behind the checksum is fuzzed too.
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/internal/endian.h"
#include "engine/log/record_frame.h"
#include "fuzz_check.h"

namespace {

constexpr uint64_t kFirst = 1000;

void Check(std::string_view raw) {
  std::vector<tl::LogRecord> all;
  size_t used = 0;
  uint32_t count = 0;
  absl::Status st = tl::DecodeChunk(raw, "ledger", 3, kFirst, 0, UINT64_MAX, &all, &used, &count);
  if (!st.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(st));
    FUZZ_CHECK(st.message().find("ledger log, partition 3, offset 1000") == 0);
    return;
  }
  FUZZ_CHECK(used == count && all.size() == count);
  for (size_t i = 0; i < all.size(); ++i) FUZZ_CHECK(all[i].offset == kFirst + i);
  FUZZ_CHECK(tl::EncodeChunk(all) == raw);

  // A window [from, stop), into a vector that already holds records (the
  // reader reuses it): the same records as the whole chunk, overwritten.
  const uint64_t from = kFirst + raw.size() % 3, stop = from + 1 + raw.size() % 5;
  std::vector<tl::LogRecord> window(2, tl::LogRecord{7, "stale", "stale"});
  size_t at = 1;
  uint32_t n = 0;
  FUZZ_CHECK(tl::DecodeChunk(raw, "ledger", 3, kFirst, from, stop, &window, &at, &n).ok());
  FUZZ_CHECK(n == count);
  size_t expect = 1;
  for (const auto& r : all) {
    if (r.offset < from || r.offset >= stop) continue;
    FUZZ_CHECK(expect < at);
    const auto& w = window[expect++];
    FUZZ_CHECK(w.offset == r.offset && w.key == r.key && w.value == r.value);
  }
  FUZZ_CHECK(expect == at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  Check(raw);
  if (raw.size() >= tl::kChunkHeaderBytes) {
    const uint32_t crc = static_cast<uint32_t>(
        crc32_z(0, reinterpret_cast<const Bytef*>(raw.data() + 5), raw.size() - 5));
    absl::little_endian::Store32(raw.data() + 1, crc);
    Check(raw);
  }
  return 0;
}
