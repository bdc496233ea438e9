// Runs a command line through the shell (popen) and collects what it prints
// on stdout with its exit code: for tests that drive ticketctl or promtool as
// a user would.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tl::testing {

struct ShellRun {
  int code = -1;  // the exit code; -1 if it could not run or was killed
  std::string out;
};

inline ShellRun RunShell(const std::string& command_line) {
  ShellRun r;
  FILE* p = popen(command_line.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace tl::testing
