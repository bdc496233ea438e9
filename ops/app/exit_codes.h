// The one exit-code table of ticketd and ticketctl (see ops/ERRORS.md).
#pragma once

#include "absl/status/status.h"

namespace tl::app {

enum ExitCode : int {
  kExitOk = 0,       // did what was asked; an audit found nothing wrong
  kExitFailure = 1,  // an operating error: a store, log, peer or file failed
  kExitUsage = 2,    // the command line or configuration is wrong
  kExitData = 3,     // the data is wrong: a ledger check or an audit failed
};

// The exit code for a Status that ends a command: DATA_LOSS and
// FAILED_PRECONDITION on data are kExitData, INVALID_ARGUMENT and NOT_FOUND
// of an input the user named are kExitUsage, everything else kExitFailure.
inline ExitCode ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kDataLoss:
      return kExitData;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

}  // namespace tl::app
