// The waiting-room ticker: appends a Tick command for each campaign whose
// queue must move (or whose random queue opens), every tick_ms. Time enters
// the ledger only through commands, so the serving counter replays.
#include "absl/time/clock.h"
#include "api/api.h"

namespace tl::api {

void Api::TickLoop() {
  while (ticking_) {
    const absl::Time next = absl::Now() + absl::Milliseconds(options_.tick_ms);
    const uint64_t now = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
    for (int p = 0; p < backend_->partitions(); ++p) {
      std::vector<std::string> due;
      backend_->WithState(p, [&](const EngineState& s, uint64_t) {
        for (const auto& [id, cs] : s.campaigns) {
          const auto& snap = cs->snap;
          bool random_opening = snap.config().queueing() == pb::QUEUEING_RANDOM && !snap.opened() &&
                                now >= snap.config().opens_at_ms();
          bool moving =
              snap.config().admission_rate_per_s() > 0 && !snap.paused() && cs->waiting() > 0;
          if (random_opening || moving) due.push_back(id);
        }
      });
      for (const std::string& id : due) {
        pb::Command tick;
        tick.set_time_ms(now);
        tick.set_campaign_id(id);
        tick.mutable_tick();
        if (backend_->Submit(tick).ok()) metrics_->Add("ticketledger_ticks_total", {});
      }
    }
    absl::SleepFor(next - absl::Now());
  }
}

}  // namespace tl::api
