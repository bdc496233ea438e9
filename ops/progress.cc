#include "ops/progress.h"

#include <unistd.h>

#include <cstdio>

namespace tl {

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done) {
  if (finished_) return;
  auto now = std::chrono::steady_clock::now();
  // A terminal gets a bar redrawn 10 times a second; a log gets a plain line
  // every 5 seconds.
  auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_ < every && (done < total_ || !tty_)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? done / secs : 0;
  double eta = rate > 0 && total_ > done ? (total_ - done) / rate : 0;
  int pct = total_ ? static_cast<int>(100.0 * std::min<double>(1.0, double(done) / total_)) : 0;
  if (!tty_) {
    std::fprintf(stderr, "%s: %d%% %llu/%llu, %.0f/s, %.1fs elapsed, ETA %.0fs\n", label_.c_str(),
                 pct, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), rate, secs, eta);
    return;
  }
  int width = 30;
  int filled = total_ ? static_cast<int>(width * std::min<double>(1.0, double(done) / total_)) : 0;
  std::string bar(filled, '#');
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %.0f/s %.1fs ETA %.0fs  ", label_.c_str(),
               bar.c_str(), pct, static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total_), rate, secs, eta);
  std::fflush(stderr);
}

void Progress::Finish() {
  if (!tty_ || finished_) return;
  Update(total_);
  finished_ = true;
  std::fprintf(stderr, "\n");
}

}  // namespace tl
