// A progress bar on stderr, drawn only when stderr is a terminal (so logs and
// CI output stay clean), at most 10 times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tl {

class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Update(uint64_t done);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace tl
