// The simulated machine room the simulator (ops/sim/simulator.h) runs the
// real engine in: one seeded generator every choice is drawn from, and the
// clock. Nothing here reads real time or real randomness, and everything
// runs on the caller's one thread, so a seed replays exactly.
#pragma once

#include <cstdint>
#include <random>

namespace tl::sim {

class World {
 public:
  explicit World(uint64_t seed, bool faults) : rng_(seed), faults_(faults) {}

  // A number in [0, n).
  uint64_t Pick(uint64_t n) { return rng_() % n; }
  // True with probability per_mille / 1000.
  bool Chance(uint32_t per_mille) { return Pick(1000) < per_mille; }
  // A fault of that probability, only while faults are on.
  bool Fault(uint32_t per_mille) { return faults_ && Chance(per_mille); }
  std::mt19937_64& rng() { return rng_; }

  bool faults() const { return faults_; }
  void set_faults(bool on) { faults_ = on; }

  uint64_t now_ms() const { return now_ms_; }
  void Advance(uint64_t ms) { now_ms_ += ms; }

 private:
  std::mt19937_64 rng_;
  bool faults_;
  uint64_t now_ms_ = 1'767'225'600'000;  // 2026-01-01, unix ms
};

}  // namespace tl::sim
