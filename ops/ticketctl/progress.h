// A progress bar on stderr. On a terminal: one line, redrawn at most 10
// times a second, ended exactly once (by Finish or the destructor) with the
// last state reported — never a 100% the work did not reach. Elsewhere (logs,
// CI): a plain line every 5 seconds, and a last one if any was printed.
// A bar whose total is not known yet draws nothing until SetTotal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tl {

class Progress {
 public:
  explicit Progress(std::string label, uint64_t total = 0);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  // Sets (or corrects) the total; callbacks that pass (done, total) call it
  // every time.
  void SetTotal(uint64_t total);
  void Update(uint64_t done);
  // Draws the final state and ends the line; later calls do nothing.
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(Clock::time_point now);

  const std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  const bool tty_;
  bool finished_ = false;
  bool drawn_ = false;       // something of this bar is on the screen or in the log
  uint64_t drawn_done_ = 0;  // `done_` as last drawn
  const Clock::time_point start_;
  Clock::time_point last_;
};

}  // namespace tl
