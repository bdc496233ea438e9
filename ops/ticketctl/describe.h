// One line per ledger event, for people (`ticketctl campaign`, `inspect`).
#pragma once

#include <string>

#include "engine/core/state.h"  // pb::
#include "ticketledger/v1/events.pb.h"

namespace tl::ctl {
std::string Describe(const pb::Event& e);

}  // namespace tl::ctl
