// Real Redis and PostgreSQL servers for the tests: started from the Debian
// binaries on free loopback ports in a temporary directory, stopped after.
// Stop/Start keep the data and the port, for outage tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "tests/support/ticketd_process.h"

namespace tl::testing {

// A TCP port nobody listens on now (the kernel's pick).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class RedisServer {
 public:
  explicit RedisServer(const std::string& dir) : dir_(dir), port_(FreePort()) {
    std::filesystem::create_directories(dir_);
    Start();
  }
  bool Start() {
    proc_ = std::make_unique<TicketdProcess>(
        "/usr/bin/redis-server",
        std::vector<std::string>{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
                                 "", "--appendonly", "no", "--dir", dir_},
        std::vector<std::string>{}, "(Ready to accept connections)");
    return proc_->ok();
  }
  void Stop() { proc_.reset(); }  // SIGKILL: the outage is abrupt
  bool ok() const { return proc_ && proc_->ok(); }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<TicketdProcess> proc_;
};

class PostgresServer {
 public:
  static constexpr char kBin[] = "/usr/lib/postgresql/15/bin";
  explicit PostgresServer(const std::string& dir) : dir_(dir + "/pgdata"), port_(FreePort()) {
    std::filesystem::create_directories(dir_);
    // initdb refuses root: the data directory belongs to `postgres`, which
    // must be able to reach it.
    const bool root = geteuid() == 0;
    if (root) {
      for (std::filesystem::path p = dir_; p != p.root_path(); p = p.parent_path()) {
        std::error_code ec;
        auto perms = std::filesystem::status(p, ec).permissions();
        if ((perms & std::filesystem::perms::others_exec) == std::filesystem::perms::none)
          std::filesystem::permissions(p, std::filesystem::perms::others_exec,
                                       std::filesystem::perm_options::add, ec);
      }
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return;
    }
    std::string initdb = std::string(root ? "runuser -u postgres -- " : "") + kBin +
                         "/initdb -D '" + dir_ + "' -A trust -U postgres -E UTF8 --no-sync >'" +
                         dir_ + "/../initdb.log' 2>&1";
    if (std::system(initdb.c_str()) != 0) return;
    Start();
  }
  bool Start() {
    proc_ = std::make_unique<TicketdProcess>(
        std::string(kBin) + "/postgres",
        std::vector<std::string>{"-D", dir_, "-p", std::to_string(port_), "-k", dir_, "-c",
                                 "listen_addresses=127.0.0.1", "-c", "fsync=off"},
        std::vector<std::string>{}, "(ready to accept connections)", /*merge_stderr=*/true,
        "postgres");
    return proc_->ok();
  }
  // Immediate shutdown (SIGQUIT): abrupt for clients, like a crash, but the
  // server cleans up its shared memory so Start works again.
  void Stop() {
    if (proc_) proc_->Kill(SIGQUIT);
    proc_.reset();
  }
  ~PostgresServer() { Stop(); }
  bool ok() const { return proc_ && proc_->ok(); }
  int port() const { return port_; }
  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<TicketdProcess> proc_;
};

// Whether a ticketd metrics page says every read model it writes is up and
// has applied the whole ledger (at least one must be reported).
inline bool ProjectionsCaughtUp(const std::string& page) {
  bool seen = false;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    const std::string value = line.substr(line.rfind(' ') + 1);
    if (line.rfind("ticketledger_projection_lag_records{", 0) == 0) {
      seen = true;
      if (value != "0") return false;
    }
    if (line.rfind("ticketledger_projection_up{", 0) == 0 && value != "1") return false;
  }
  return seen;
}

// Polls `t`'s metrics until ProjectionsCaughtUp or `seconds` pass.
inline bool WaitProjectionsCaughtUp(const TicketdProcess& t, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    auto r = t.Client()->Get("/metrics");
    if (r && ProjectionsCaughtUp(r->body)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace tl::testing
