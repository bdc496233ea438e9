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
  if (!tty_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100) && done < total_) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  int width = 30;
  int filled = total_ ? static_cast<int>(width * std::min<double>(1.0, double(done) / total_)) : 0;
  std::string bar(filled, '#');
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %.1fs", label_.c_str(), bar.c_str(),
               total_ ? static_cast<int>(100.0 * done / total_) : 0,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
               secs);
  std::fflush(stderr);
}

void Progress::Finish() {
  if (!tty_ || finished_) return;
  Update(total_);
  finished_ = true;
  std::fprintf(stderr, "\n");
}

}  // namespace tl
