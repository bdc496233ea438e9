#include "engine/record_frame.h"

#include <zlib.h>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"

namespace tl {
namespace {

uint32_t Crc(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

}  // namespace

std::string EncodeFrame(std::string_view key, std::string_view value) {
  std::string out;
  out.resize(kFrameHeaderBytes);
  out.append(key).append(value);
  out[0] = static_cast<char>(kFrameFormatV1);
  absl::little_endian::Store32(out.data() + 5, static_cast<uint32_t>(key.size()));
  absl::little_endian::Store32(out.data() + 1, Crc(std::string_view(out).substr(5)));
  return out;
}

absl::Status DecodeFrame(std::string_view raw, std::string_view log, int partition, uint64_t offset,
                         LogRecord* out) {
  auto where = [&] {
    return absl::StrCat(std::string(log), " log, partition ", partition, ", offset ", offset);
  };
  if (raw.size() < kFrameHeaderBytes)
    return absl::DataLossError(absl::StrCat(where(), ": truncated record (", raw.size(),
                                            " bytes, header needs ", kFrameHeaderBytes, ")"));
  if (static_cast<uint8_t>(raw[0]) != kFrameFormatV1)
    return absl::DataLossError(absl::StrCat(where(), ": unknown record format ",
                                            static_cast<int>(static_cast<uint8_t>(raw[0]))));
  uint32_t crc = absl::little_endian::Load32(raw.data() + 1);
  uint32_t key_len = absl::little_endian::Load32(raw.data() + 5);
  if (key_len > raw.size() - kFrameHeaderBytes)
    return absl::DataLossError(
        absl::StrCat(where(), ": truncated record (key length ", key_len, " exceeds the record)"));
  if (Crc(raw.substr(5)) != crc)
    return absl::DataLossError(absl::StrCat(where(), ": checksum mismatch"));
  out->offset = offset;
  out->key.assign(raw.substr(kFrameHeaderBytes, key_len));
  out->value.assign(raw.substr(kFrameHeaderBytes + key_len));
  return absl::OkStatus();
}

}  // namespace tl
