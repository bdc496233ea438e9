#include "engine/runtime/ticker.h"

#include <pthread.h>

#include <cstdio>

#include "absl/time/clock.h"
#include "engine/log/command_log.h"

namespace tl {

std::vector<std::string> CampaignsDueForTick(const EngineState& state, uint64_t now_ms) {
  std::vector<std::string> due;
  for (const auto& [id, cs] : state.campaigns) {  // a std::map: id order
    const auto& snap = cs->snap;
    const bool random_opening = snap.config().queueing() == pb::QUEUEING_RANDOM && !snap.opened() &&
                                now_ms >= snap.config().opens_at_ms();
    const bool moving =
        snap.config().admission_rate_per_s() > 0 && !snap.paused() && cs->waiting() > 0;
    // A hold whose deadline has passed expires at the campaign's next command.
    const bool expiring = !cs->hold_order.empty() && cs->hold_order.begin()->first <= now_ms;
    if (random_opening || moving || expiring) due.push_back(id);
  }
  return due;
}

Ticker::Ticker(EventLog* commands, std::vector<int> partitions, WithStateFn with_state,
               TickerOptions options)
    : commands_(commands),
      partitions_(std::move(partitions)),
      with_state_(std::move(with_state)),
      options_(std::move(options)) {}

Ticker::~Ticker() { Stop(); }

absl::StatusOr<uint64_t> Ticker::TickOnce(uint64_t now_ms) {
  uint64_t appended = 0;
  absl::Status error;
  for (int p : partitions_) {
    std::vector<std::string> due;
    with_state_(p, [&](const EngineState& s, uint64_t) { due = CampaignsDueForTick(s, now_ms); });
    for (const std::string& id : due) {
      if (stopping_) break;
      pb::Command tick;
      tick.set_time_ms(now_ms);
      tick.set_campaign_id(id);
      tick.mutable_tick();
      absl::StatusOr<CommandPosition> at = AppendCommand(commands_, tick);
      if (!at.ok()) {
        error = at.status();
        break;
      }
      ++appended;
    }
    if (!error.ok()) break;
  }
  if (appended > 0 && options_.on_appended) options_.on_appended(appended);
  if (!error.ok()) return error;
  return appended;
}

void Ticker::Start() {
  if (options_.tick_ms == 0 || thread_.joinable()) return;
  stopping_ = false;
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "tl-ticker");
    Run();
  });
}

void Ticker::Stop() {
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Ticker::Run() {
  absl::Status last;  // say each new trouble once
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Time next = absl::Now() + absl::Milliseconds(options_.tick_ms);
    mu_.Unlock();
    absl::StatusOr<uint64_t> n = TickOnce(static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));
    const absl::Status st = n.status();
    if (st != last) {
      if (!st.ok())
        std::fprintf(stderr, "engine: ticker: %s (retrying every tick)\n", st.ToString().c_str());
      else
        std::fprintf(stderr, "engine: ticker: appending again\n");
      last = st;
    }
    mu_.Lock();
    // Wakes at once on Stop.
    mu_.AwaitWithDeadline(absl::Condition(&stop_), next);
  }
}

}  // namespace tl
