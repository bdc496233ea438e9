// `ticketctl simulate`: a whole drop on the embedded log, from a fixed virtual
// clock, so the same options always give the same ledger and digest.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/names.h"
#include "engine/runtime/node.h"

namespace tl {

struct SimulateOptions {
  std::string campaign = "sim";
  uint64_t users = 100000;
  uint64_t stock = 5000;
  uint32_t win_bps = 500;
  uint32_t rate = 0;                  // admission rate per second
  std::string queueing = kFifo;       // fifo | random
  uint64_t arrival_ms = 1000;         // users arrive evenly over this long
  uint64_t tick_ms = 100;             // waiting-room tick interval
  uint64_t start_ms = 1767225600000;  // virtual clock start (2026-01-01)
  size_t batch = 256;                 // commands per append
  bool resume = false;                // continue a log that already has commands
  bool print_acks = false;            // print "acked <end offset>" after each durable append
  // Issue 14's drop: wins held for hold_s (0: final), and every
  // confirm_every-th user's shop confirming at hold_s / 2 after the user's
  // entry (instant) or the close (at_close): the others' holds expire.
  uint32_t hold_s = 0;
  uint64_t confirm_every = 0;   // 0: nobody confirms
  std::string draw = kInstant;  // instant | at_close
  std::string entropy;          // at_close: commit to a source and close with this value
};

// Runs the drop on `node` (recovered, not started). Prints the summary to
// stdout. Returns the exit code (ops/app/exit_codes.h).
int RunSimulate(Node& node, const SimulateOptions& options);

}  // namespace tl
