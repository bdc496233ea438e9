// Moved to ops/app/secrets.h; this name stays until ticketctl includes that.
#pragma once

#include "ops/app/secrets.h"

namespace tl {
using app::kDevJwtSecret;
using app::kDevSeedSecret;
using app::ReadSecret;
}  // namespace tl
