// How one log record is framed inside the embedded log (see LOG_FORMAT.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "engine/event_log.h"

namespace tl {

inline constexpr uint8_t kFrameFormatV1 = 1;
inline constexpr size_t kFrameHeaderBytes = 1 + 4 + 4;

std::string EncodeFrame(std::string_view key, std::string_view value);
// Decodes `raw`, stored at `offset` of `log`/`partition`, into `out`.
absl::Status DecodeFrame(std::string_view raw, std::string_view log, int partition, uint64_t offset,
                         LogRecord* out);

}  // namespace tl
