#include "engine/log/record_frame.h"

#include <zlib.h>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"

namespace tl {
namespace {

uint32_t Crc(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

void Put32(std::string* out, uint32_t v) {
  char b[4];
  absl::little_endian::Store32(b, v);
  out->append(b, 4);
}

}  // namespace

std::string EncodeChunk(const std::vector<LogRecord>& records) {
  size_t size = kChunkHeaderBytes;
  for (const auto& r : records) size += 8 + r.key.size() + r.value.size();
  std::string out;
  out.reserve(size);
  out.resize(5);
  out[0] = static_cast<char>(kChunkFormatV1);
  Put32(&out, static_cast<uint32_t>(records.size()));
  for (const auto& r : records) {
    Put32(&out, static_cast<uint32_t>(r.key.size()));
    Put32(&out, static_cast<uint32_t>(r.value.size()));
    out.append(r.key).append(r.value);
  }
  absl::little_endian::Store32(out.data() + 1, Crc(std::string_view(out).substr(5)));
  return out;
}

absl::Status DecodeChunk(std::string_view raw, std::string_view log, int partition,
                         uint64_t first_offset, uint64_t from, uint64_t stop,
                         std::vector<LogRecord>* out, size_t* used, uint32_t* count) {
  auto where = [&] {
    return absl::StrCat(std::string(log), " log, partition ", partition, ", offset ", first_offset);
  };
  if (raw.size() < kChunkHeaderBytes)
    return absl::DataLossError(absl::StrCat(where(), ": truncated record (", raw.size(),
                                            " bytes, the header needs ", kChunkHeaderBytes, ")"));
  if (static_cast<uint8_t>(raw[0]) != kChunkFormatV1)
    return absl::DataLossError(absl::StrCat(where(), ": unknown record format ",
                                            static_cast<int>(static_cast<uint8_t>(raw[0]))));
  const uint32_t n = absl::little_endian::Load32(raw.data() + 5);
  if (Crc(raw.substr(5)) != absl::little_endian::Load32(raw.data() + 1))
    return absl::DataLossError(absl::StrCat(where(), ": checksum mismatch in a chunk of ", n,
                                            " records (offsets ", first_offset, "..",
                                            first_offset + n - 1, ")"));
  size_t at = kChunkHeaderBytes;
  for (uint32_t i = 0; i < n; ++i) {
    if (raw.size() - at < 8)
      return absl::DataLossError(absl::StrCat(where(), ": truncated record ", first_offset + i));
    uint32_t klen = absl::little_endian::Load32(raw.data() + at);
    uint32_t vlen = absl::little_endian::Load32(raw.data() + at + 4);
    at += 8;
    if (raw.size() - at < uint64_t{klen} + vlen)
      return absl::DataLossError(absl::StrCat(where(), ": truncated record ", first_offset + i));
    const uint64_t offset = first_offset + i;
    if (offset >= from && offset < stop) {
      LogRecord& r = *used < out->size() ? (*out)[*used] : out->emplace_back();
      ++*used;
      r.offset = offset;
      r.key.assign(raw.substr(at, klen));
      r.value.assign(raw.substr(at + klen, vlen));
    }
    at += klen + vlen;
  }
  if (at != raw.size())
    return absl::DataLossError(
        absl::StrCat(where(), ": ", raw.size() - at, " stray bytes after the chunk's records"));
  *count = n;
  return absl::OkStatus();
}

}  // namespace tl
