// The daemon's logs: spdlog on stderr, one line per message with the UTC
// time, the level and the component ("2026-11-30T12:00:00.123Z info engine:
// partition 3: taken"). Components log through tl::Logger (engine/logger.h).
// The access log (one line per answered request: method, route template,
// status, duration; never a header, token or query string) is the component
// "access", on when --access-log is given.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tl::app {

// The level names --log-level takes, most verbose first.
const std::vector<std::string>& LogLevels();

// Sets the sink, pattern and `level` of every logger, those made before too;
// `program` ("ticketd", "ticketctl") names the default logger. Call once,
// early in main.
absl::Status SetUpLogging(const std::string& program, const std::string& level);

}  // namespace tl::app
