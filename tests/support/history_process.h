// A process the history checker's nemesis can SIGKILL, SIGSTOP/SIGCONT and
// restart with the same arguments (so on the same port and data dir):
// ticketd roles, redis-server, postgres, the Kafka mock. Its stderr (and
// stdout once ready) go to a log file, appended across restarts. Each runs
// in its own process group (a signal reaches postgres's backends too) and
// dies with the thread that started it (PR_SET_PDEATHSIG): start them all
// from the test's main thread, so a test killed by a timeout leaves none.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace tl::testing {

struct HistoryProcessSpec {
  std::string name;    // for the nemesis log: "api0", "redis", ...
  std::string binary;  // absolute path
  std::vector<std::string> args;
  std::string ready;  // a regex for the stdout line that says it is ready; group 1 is kept
  std::string log_path;
  std::vector<std::pair<std::string, std::string>> env;
  std::string run_as;         // a user to become when root (postgres)
  bool merge_stderr = false;  // the ready line comes on stderr (postgres)
};

class HistoryProcess {
 public:
  explicit HistoryProcess(HistoryProcessSpec spec) : spec_(std::move(spec)) {}
  ~HistoryProcess() { Kill(SIGKILL); }
  HistoryProcess(const HistoryProcess&) = delete;
  HistoryProcess& operator=(const HistoryProcess&) = delete;

  const std::string& name() const { return spec_.name; }
  const std::string& match() const { return match_; }
  bool running() const { return pid_ > 0; }
  int incarnation() const { return incarnation_; }

  // Starts it and waits up to `timeout_s` for the ready line; false (and the
  // process killed) if it never came.
  bool Start(int timeout_s = 60) {
    int out[2];
    if (pipe(out) != 0) return false;
    const int log = open(spec_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);  // its own group: a SIGSTOP/SIGKILL reaches its children too
      dup2(out[1], STDOUT_FILENO);
      if (spec_.merge_stderr) {
        dup2(out[1], STDERR_FILENO);
      } else if (log >= 0) {
        dup2(log, STDERR_FILENO);
      }
      close(out[0]);
      if (!spec_.run_as.empty() && geteuid() == 0) {
        if (const passwd* pw = getpwnam(spec_.run_as.c_str())) {
          if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
        }
      }
      // After setuid, which clears it.
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(125);
      for (const auto& [k, v] : spec_.env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<std::string> all = {spec_.binary};
      all.insert(all.end(), spec_.args.begin(), spec_.args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(spec_.binary.c_str(), argv.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(out[1]);
    ++incarnation_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::regex re(spec_.ready);
    std::string pending;
    bool ready = false;
    char buf[4096];
    while (!ready && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;  // exited before it was ready
      if (log >= 0) (void)!write(log, buf, static_cast<size_t>(n));
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::smatch m;
        const std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (std::regex_search(line, m, re)) {
          match_ = m[1];
          ready = true;
          break;
        }
      }
    }
    // Keep draining stdout into the log so the child never blocks on a full pipe.
    std::thread([fd = out[0], log] {
      char b[4096];
      for (ssize_t n; (n = read(fd, b, sizeof b)) > 0;)
        if (log >= 0) (void)!write(log, b, static_cast<size_t>(n));
      close(fd);
      if (log >= 0) close(log);
    }).detach();
    if (!ready) Kill(SIGKILL);
    return ready;
  }

  // Sends `sig` to the whole process group and waits for the leader; the
  // exit status (or -signal).
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    killpg(pid_, SIGCONT);  // a stopped process must run to die of SIGTERM
    killpg(pid_, sig);
    int st = 0;
    waitpid(pid_, &st, 0);
    if (sig == SIGKILL) killpg(pid_, SIGKILL);  // children the leader left behind
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }
  // SIGTERM, then up to `timeout_s` for a clean exit, else SIGKILL. The
  // exit status, or -1000 when it had to be killed.
  int Terminate(int timeout_s) {
    if (pid_ <= 0) return 0;
    killpg(pid_, SIGCONT);
    kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < timeout_s * 20; ++i) {
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        killpg(pid_, SIGKILL);
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Kill(SIGKILL);
    return -1000;
  }
  void Pause() {
    if (pid_ > 0) killpg(pid_, SIGSTOP);
  }
  // Sends `sig` to the leader only, and leaves it running (a control signal).
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  void Resume() {
    if (pid_ > 0) killpg(pid_, SIGCONT);
  }

 private:
  HistoryProcessSpec spec_;
  pid_t pid_ = -1;
  int incarnation_ = 0;
  std::string match_;
};

}  // namespace tl::testing
