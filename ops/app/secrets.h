// The one way ticketd and ticketctl load secrets: a file named by a flag,
// else an environment variable, else (only where allowed) the development
// value. Secrets are never printed or logged; errors name the file or the
// variable, never the content.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tl::app {

inline constexpr char kDevSeedSecret[] = "ticketledger-dev-secret-do-not-use-in-production";
inline constexpr char kDevJwtSecret[] = "ticketledger-dev-jwt-secret-do-not-use-in-production";
inline constexpr size_t kSecretBytesMin = 16;

// Reads `file` if not empty (trailing newlines dropped), else $`env`; returns
// "" when neither is set.
absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env);

}  // namespace tl::app
