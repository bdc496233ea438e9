// Known bugs the simulator's own test plants, one at a time, to show that
// the simulator finds each within its seed budget (tests/sim/sim_test.cc,
// `ticketctl simulate --faults --plant NAME`). Nothing else ever sets it;
// with kNone (always, in every role) each hook is one untaken branch.
#pragma once

#include <cstdint>

namespace tl {

enum class PlantedBug : uint8_t {
  kNone,
  kFoldForgetsStockChange,  // fold ignores a StockChanged (engine/core/fold.cc)
  kRecoveryResumesLate,     // recovery resumes one command late (engine/runtime/engine.cc)
  kCheckpointBeforeData,    // a sink writes its checkpoint before the data (ops/sim/sim_sink.cc)
};

inline PlantedBug planted_bug = PlantedBug::kNone;

}  // namespace tl
