// The wire names of the engine's enums, as the HTTP api and the read models
// spell them (one spelling, so a result reads the same from every store).
#pragma once

#include "ticketledger/v1/events.pb.h"

namespace tl {

inline const char* OutcomeName(::ticketledger::v1::Outcome o) {
  switch (o) {
    case ::ticketledger::v1::OUTCOME_WON:
      return "won";
    case ::ticketledger::v1::OUTCOME_LOST:
      return "lost";
    case ::ticketledger::v1::OUTCOME_SOLD_OUT:
      return "sold_out";
    default:
      return "unknown";
  }
}

}  // namespace tl
