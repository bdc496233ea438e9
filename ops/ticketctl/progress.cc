#include "ops/ticketctl/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace tl {

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::SetTotal(uint64_t total) { total_ = total; }

void Progress::Update(uint64_t done) {
  if (finished_) return;
  done_ = done;
  if (total_ == 0) return;  // nothing to draw a fraction of yet
  const Clock::time_point now = Clock::now();
  // A terminal gets the bar 10 times a second and the moment it completes
  // (once); a log gets a plain line every 5 seconds.
  const bool complete = tty_ && done_ >= total_ && !(drawn_ && drawn_done_ == done_);
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (!complete && now - last_ < every) return;
  Draw(now);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!tty_ && !drawn_) return;  // a short run leaves nothing in a log
  if (!drawn_ || drawn_done_ != done_) Draw(Clock::now());
  if (tty_) std::fprintf(stderr, "\n");
}

void Progress::Draw(Clock::time_point now) {
  last_ = now;
  drawn_ = true;
  drawn_done_ = done_;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  const double eta = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : 0;
  const double fraction =
      total_ ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 1.0;
  const int pct = static_cast<int>(100.0 * fraction);
  const auto done = static_cast<unsigned long long>(done_);
  const auto total = static_cast<unsigned long long>(total_);
  if (!tty_) {
    std::fprintf(stderr, "%s: %d%% %llu/%llu, %.0f/s, %.1fs elapsed, ETA %.0fs\n", label_.c_str(),
                 pct, done, total, rate, secs, eta);
    return;
  }
  constexpr int kWidth = 30;
  std::string bar(static_cast<size_t>(kWidth * fraction), '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %.0f/s %.1fs ETA %.0fs  ", label_.c_str(),
               bar.c_str(), pct, done, total, rate, secs, eta);
  std::fflush(stderr);
}

}  // namespace tl
