// Starts a real ticketd on a free loopback port in a temporary data dir, for
// end-to-end tests over HTTP; SIGTERM or SIGKILL stops it.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api/jwt.h"

namespace tl::testing {

inline constexpr char kJwtSecret[] = "api-test-jwt-secret-0123456789";
inline constexpr char kSeedSecret[] = "api-test-seed-secret-0123456789";
// The admission pass key of the tests' ticketd (openssl genpkey -algorithm ed25519).
inline constexpr char kPassKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEILfWRwo1yKD3hhVc7W9waJi9EAItGuAXMqonsL4IMGyH\n"
    "-----END PRIVATE KEY-----\n";

// Arguments added to every ticketd a test starts (the api tests' run with
// read models sets it: each call gives a fresh Redis prefix and schema).
inline std::function<std::vector<std::string>()>& ExtraTicketdArgs() {
  static std::function<std::vector<std::string>()> extra;
  return extra;
}

class TicketdProcess {
 public:
  // Starts ticketd with `args` added; waits until it prints its port.
  TicketdProcess(const std::string& data_dir, std::vector<std::string> args)
      : TicketdProcess(TL_TICKETD, {"--port", "0", "--data-dir", data_dir}, WithExtra(args),
                       "listening on [0-9.]+:([0-9]+)") {}
  static std::vector<std::string> WithExtra(std::vector<std::string> args) {
    if (ExtraTicketdArgs()) {
      for (std::string& a : ExtraTicketdArgs()()) args.push_back(std::move(a));
    }
    return args;
  }

  // Starts `binary` with `base` + `args`; waits for a stdout line matching
  // `ready` and keeps its first group (a port, or bootstrap servers).
  // `merge_stderr`: read stderr too; `run_as`: a user to become (when root).
  TicketdProcess(const std::string& binary, std::vector<std::string> base,
                 std::vector<std::string> args, const std::string& ready, bool merge_stderr = false,
                 const std::string& run_as = "") {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      if (merge_stderr) dup2(out[1], STDERR_FILENO);
      close(out[0]);
      if (!run_as.empty() && geteuid() == 0) {
        if (const passwd* pw = getpwnam(run_as.c_str())) {
          if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
        }
      }
      setenv("TICKETD_JWT_SECRET", kJwtSecret, 1);
      setenv("TICKETLEDGER_SEED_SECRET", kSeedSecret, 1);
      setenv("TICKETD_PASS_KEY", kPassKeyPem, 1);
      std::vector<std::string> all = {binary};
      all.insert(all.end(), base.begin(), base.end());
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512];
    std::regex re(ready);
    std::cmatch m;
    while (f && std::fgets(line, sizeof line, f)) {
      if (std::regex_search(line, m, re)) {
        match_ = m[1];
        port_ = std::all_of(match_.begin(), match_.end(), ::isdigit) ? std::stoi(match_) : 0;
        break;
      }
    }
    if (f) {
      // Keep draining stdout so the child never blocks on a full pipe.
      std::thread([f] {
        char buf[512];
        while (std::fgets(buf, sizeof buf, f)) {
        }
        std::fclose(f);
      }).detach();
    }
  }
  ~TicketdProcess() {
    if (pid_ > 0) Kill(SIGKILL);
  }

  int port() const { return port_; }
  bool ok() const { return !match_.empty(); }
  const std::string& match() const { return match_; }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_keep_alive(true);
    c->set_read_timeout(15, 0);
    return c;
  }
  // Sends `sig`, waits; returns the exit status (or -signal).
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    kill(pid_, sig);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::string match_;
};

// The flags of one role of the split deployment: `--role role`, the Kafka
// settings every role shares (`--kafka-brokers ...`), then the role's own.
inline std::vector<std::string> RoleArgs(const std::string& role,
                                         const std::vector<std::string>& kafka,
                                         const std::vector<std::string>& own = {}) {
  std::vector<std::string> args = {"--role", role};
  args.insert(args.end(), kafka.begin(), kafka.end());
  args.insert(args.end(), own.begin(), own.end());
  return args;
}

inline std::string Token(const std::string& user, bool admin = false, int64_t ttl_s = 3600) {
  api::Claims c{user, admin, static_cast<int64_t>(time(nullptr)) + ttl_s};
  return api::MintJwt(c, kJwtSecret);
}

inline httplib::Headers Auth(const std::string& token, const std::string& prefer = "") {
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  if (!prefer.empty()) h.emplace("Prefer", prefer);
  return h;
}

}  // namespace tl::testing
