// Random drops over every mode of the engine: campaigns (fifo and random
// queues, admission rates, instant and at-close draws with and without
// entropy, holds, items with quantities chosen at entry or on admission,
// entry caps) and the commands people and operators send them (entries,
// duplicates, bad users, cancels, confirmations naming the right pass or
// not, choices, restocks, pauses, resumes, ticks, closes, reveals).
//
// The property test of the core and the simulator (ops/sim) draw from the
// same generator. Everything is a function of the generator's state: the
// same seed gives the same stream on every machine (std::mt19937_64 is
// fully specified, and no distribution objects are used).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/core/state.h"
#include "ticketledger/v1/commands.pb.h"

namespace tl::sim {

namespace pb = ::ticketledger::v1;

// A CreateCampaign for `id` at `now` (unix ms), any mode.
pb::Command RandomCreate(std::mt19937_64& rng, const std::string& id, uint64_t now);

// The next command of a stream: advances `now` by 0..399 ms and picks one of
// `campaigns` (now and then an unknown one). `state` is what the sender
// knows of the engine (the passes to confirm, who is admitted); null when
// it knows nothing.
pb::Command RandomCommand(std::mt19937_64& rng, uint64_t& now,
                          const std::vector<std::string>& campaigns, const EngineState* state);

}  // namespace tl::sim
