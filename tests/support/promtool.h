// Reading a /metrics page in tests: a series' value, a family's sum, and
// `promtool check metrics` (Debian `prometheus`, from ops/install-deps.sh).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace tl::testing {

inline bool HavePromtool() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

// Runs `promtool check metrics` on `page`: "" if it passes, else its
// exit status and output.
inline std::string PromtoolProblems(const std::string& page) {
  char path[] = "/tmp/tl_metrics_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  std::ofstream(path) << page;
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  std::remove(path);
  return rc == 0 ? "" : "promtool exit " + std::to_string(rc) + ": " + out;
}

// The sample line of `series` (name plus labels, as printed), or "".
inline std::string SampleLine(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return line;
  }
  return "";
}

// The sum of every series of family `name` (-1 if it has none); exact for
// integer counters below 2^53 (a "1.02e+06" would not be).
inline double FamilySum(const std::string& page, const std::string& name) {
  double sum = 0;
  bool seen = false;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) != 0 && line.rfind(name + "{", 0) != 0) continue;
    seen = true;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return seen ? sum : -1;
}

}  // namespace tl::testing
