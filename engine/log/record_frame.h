// How records are framed inside the embedded log (see LOG_FORMAT.md): the
// records of one Append are stored as one chunk under the key of its first
// offset, like a Kafka record batch, so a RocksDB write and a memtable insert
// are paid per append, not per record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/log/event_log.h"

namespace tl {

inline constexpr uint8_t kChunkFormatV1 = 1;
inline constexpr size_t kChunkHeaderBytes = 1 + 4 + 4;

std::string EncodeChunk(const std::vector<LogRecord>& records);

// Checks the chunk `raw` stored at `first_offset` of `log`/`partition` and
// puts its records with offsets in [from, stop), numbered from
// `first_offset`, at (*out)[*used], (*out)[*used + 1], ..., advancing *used.
// Elements already in `out` are overwritten, so a reader that passes the
// same vector again reuses its strings' memory (the caller trims `out` to
// *used at the end). Sets *count to the number of records in the chunk.
absl::Status DecodeChunk(std::string_view raw, std::string_view log, int partition,
                         uint64_t first_offset, uint64_t from, uint64_t stop,
                         std::vector<LogRecord>* out, size_t* used, uint32_t* count);

}  // namespace tl
