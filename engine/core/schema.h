// The protobuf schemas (schemas/ticketledger/v1) under their one short name.
#pragma once

#include "ticketledger/v1/commands.pb.h"
#include "ticketledger/v1/events.pb.h"
#include "ticketledger/v1/state.pb.h"

namespace tl {
namespace pb = ::ticketledger::v1;
}  // namespace tl
