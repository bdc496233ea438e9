// ticketctl's command line, run as a real process: through a pseudo-terminal
// (so its progress bars draw as they do for a person), its exit codes
// (ops/app/exit_codes.h), --version, --config, the secrets policy, missing
// data dirs, and simulate writing where --data-dir says.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

constexpr char kSecret[] = "cli-test-seed-secret-0123456789";

struct Ran {
  int code = -1;    // exit code, or -1 when it did not exit normally
  std::string out;  // stdout and stderr, exactly as the terminal received them
};

using Env = std::vector<std::pair<std::string, std::string>>;

// Runs ticketctl `args` on a pseudo-terminal in raw mode (no newline
// translation) with only the secrets in `env` set; kills it after 120 s.
Ran RunCtl(const std::vector<std::string>& args,
           const Env& env = {{"TICKETLEDGER_SEED_SECRET", kSecret}}) {
  termios raw{};
  cfmakeraw(&raw);
  winsize ws{};
  ws.ws_row = 40;
  ws.ws_col = 160;
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, &raw, &ws);
  if (pid == 0) {
    unsetenv("TICKETLEDGER_SEED_SECRET");
    unsetenv("TICKETD_JWT_SECRET");
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = TL_TICKETCTL;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  Ran ran;
  if (pid < 0) return ran;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  char buf[4096];
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child and every holder of the terminal are gone
    ran.out.append(buf, static_cast<size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) ran.code = WEXITSTATUS(status);
  return ran;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// The bar `label` is one line, ended once, with "100%" drawn exactly once
// (no false 100% first) in its last frame, which shows total/total.
void ExpectOneBar(const std::string& out, const std::string& label, uint64_t total) {
  SCOPED_TRACE("bar " + label);
  std::vector<std::string> lines;
  size_t from = 0;
  for (size_t nl; (nl = out.find('\n', from)) != std::string::npos; from = nl + 1)
    lines.push_back(out.substr(from, nl - from));
  EXPECT_EQ(out.substr(from).find(label + " ["), std::string::npos) << "a bar left unended";
  std::vector<std::string> bars;
  for (const auto& l : lines)
    if (l.find(label + " [") != std::string::npos) bars.push_back(l);
  ASSERT_EQ(bars.size(), 1u) << out;
  EXPECT_EQ(Count(bars[0], "100%"), 1u) << bars[0];
  const std::string last = bars[0].substr(bars[0].rfind('\r') + 1);
  EXPECT_NE(last.find("100%"), std::string::npos) << last;
  const std::string n = std::to_string(total);
  EXPECT_NE(last.find(" " + n + "/" + n + " "), std::string::npos) << last;
}

std::string Match(const std::string& out, const std::string& re) {
  std::smatch m;
  return std::regex_search(out, m, std::regex(re)) ? m[1].str() : "";
}

TEST(TicketctlCli, VersionPrintsTheProjectVersion) {
  Ran r = RunCtl({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "ticketctl " TL_VERSION "\n");
}

TEST(TicketctlCli, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCtl({}).code, 2);                                  // no verb
  EXPECT_EQ(RunCtl({"frobnicate"}).code, 2);                      // unknown verb
  EXPECT_EQ(RunCtl({"--no-such-flag", "replay"}).code, 2);        // unknown option
  EXPECT_EQ(RunCtl({"campaign"}).code, 2);                        // missing sub-verb
  EXPECT_EQ(RunCtl({"simulate", "--users", "many"}).code, 2);     // not a number
  EXPECT_EQ(RunCtl({"simulate", "--queueing", "lifo"}).code, 2);  // not a choice
  EXPECT_EQ(RunCtl({"--partitions", "0", "replay"}).code, 2);     // out of range
  EXPECT_EQ(RunCtl({"--config", "/nonexistent.toml", "replay"}).code, 2);
  EXPECT_EQ(RunCtl({"replay", "--help"}).code, 0);
}

TEST(TicketctlCli, MissingDataDirIsRefusedAndNotCreated) {
  TempDir dir;
  const std::string missing = dir.Sub("nothing");
  for (std::vector<std::string> verb : {std::vector<std::string>{"inspect", "summer"},
                                        {"audit"},
                                        {"audit", "--json"},
                                        {"replay"},
                                        {"rebuild", "redis", "--redis-url", "redis://127.0.0.1:1"},
                                        {"campaign", "close", "summer"}}) {
    std::vector<std::string> args = {"--data-dir", missing};
    args.insert(args.end(), verb.begin(), verb.end());
    Ran r = RunCtl(args);
    EXPECT_EQ(r.code, 2) << verb[0] << ": " << r.out;
    EXPECT_NE(r.out.find(missing), std::string::npos) << verb[0] << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(missing)) << verb[0] << " created the data dir";
  }
}

TEST(TicketctlCli, SecretsAsTicketdLoadsThem) {
  TempDir dir;
  // Neither a secret nor --dev: refused, naming both ways out.
  Ran none = RunCtl({"--data-dir", dir.Sub("a"), "simulate", "--users", "10"}, {});
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_NE(none.out.find("TICKETLEDGER_SEED_SECRET"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("--dev"), std::string::npos) << none.out;
  EXPECT_EQ(RunCtl({"token", "--user", "alice"}, {}).code, 2);
  // --dev: the development secrets, said out loud.
  Ran dev = RunCtl({"--dev", "token", "--user", "alice"}, {});
  EXPECT_EQ(dev.code, 0) << dev.out;
  EXPECT_NE(dev.out.find("development"), std::string::npos) << dev.out;
  EXPECT_EQ(RunCtl({"token", "--user", "alice"}, {{"TICKETD_JWT_SECRET", kSecret}}).code, 0);
  // Too short, or an unreadable file: a usage error that never prints the secret.
  Ran shorty = RunCtl({"token", "--user", "alice"}, {{"TICKETD_JWT_SECRET", "short-secret"}});
  EXPECT_EQ(shorty.code, 2);
  EXPECT_EQ(shorty.out.find("short-secret"), std::string::npos) << shorty.out;
  EXPECT_EQ(RunCtl({"--seed-secret-file", dir.Sub("none"), "simulate", "--users", "10"}).code, 2);
}

TEST(TicketctlCli, SimulateWritesToDataDirThatAuditReplayAndInspectRead) {
  TempDir dir;
  const std::string node = dir.Sub("node");
  Ran sim = RunCtl(
      {"--data-dir", node, "simulate", "--users", "20000", "--stock", "1000", "--win-bps", "500"});
  ASSERT_EQ(sim.code, 0) << sim.out;
  ASSERT_TRUE(std::filesystem::is_directory(node + "/log"));
  const std::string digest = Match(sim.out, "digest +([0-9a-f]{64})");
  ASSERT_FALSE(digest.empty()) << sim.out;
  const uint64_t commands = std::stoull(Match(sim.out, R"(\((\d+) commands in)"));
  ExpectOneBar(sim.out, "simulate", commands);

  // The global option may also follow the verb; both name the same log.
  Ran audit = RunCtl({"audit", "--data-dir", node});
  EXPECT_EQ(audit.code, 0) << audit.out;
  const uint64_t records = std::stoull(Match(audit.out, R"(ledger: (\d+) records)"));
  ExpectOneBar(audit.out, "audit", records);

  Ran replay = RunCtl({"--data-dir", node, "replay"});
  EXPECT_EQ(replay.code, 0) << replay.out;
  EXPECT_EQ(Match(replay.out, "replayed \\d+ events; digest ([0-9a-f]{64})"), digest);
  ExpectOneBar(replay.out, "replay partition 0", records);

  Ran inspect = RunCtl({"--data-dir", node, "inspect", "sim", "--events", "3"});
  EXPECT_EQ(inspect.code, 0) << inspect.out;
  EXPECT_NE(inspect.out.find("last 3 events"), std::string::npos) << inspect.out;
  ExpectOneBar(inspect.out, "scanning ledger", records);

  // A second run into the same dir is refused (use --resume), and the old
  // spelling --sim-dir may not contradict --data-dir.
  EXPECT_EQ(RunCtl({"--data-dir", node, "simulate", "--users", "20000"}).code, 2);
  EXPECT_EQ(RunCtl({"--data-dir", node, "simulate", "--sim-dir", dir.Sub("other")}).code, 2);
  Ran old = RunCtl({"simulate", "--sim-dir", dir.Sub("old"), "--users", "20000", "--stock", "1000",
                    "--win-bps", "500"});
  EXPECT_EQ(old.code, 0) << old.out;
  EXPECT_EQ(Match(old.out, "digest +([0-9a-f]{64})"), digest);
  // Without --data-dir the run goes to a temporary dir, removed after.
  Ran temp = RunCtl({"simulate", "--users", "1000"});
  EXPECT_EQ(temp.code, 0) << temp.out;
  EXPECT_EQ(temp.out.find("data dir"), std::string::npos) << temp.out;
}

TEST(TicketctlCli, ConfigFileSetsOptionsAndRefusesUnknownKeys) {
  TempDir dir;
  const std::string good = dir.Sub("good.toml"), bad = dir.Sub("bad.toml"),
                    bad_verb = dir.Sub("bad_verb.toml");
  std::ofstream(good) << "data-dir = \"" << dir.Sub("node") << "\"\n[simulate]\nusers = 500\n";
  std::ofstream(bad) << "data-dir = \"" << dir.Sub("node") << "\"\ndata-dri = \"x\"\n";
  std::ofstream(bad_verb) << "[simulate]\nuserz = 500\n";
  Ran ok = RunCtl({"--config", good, "simulate"});
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("500 users"), std::string::npos) << ok.out;
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("node") + "/log"));
  Ran r = RunCtl({"--config", bad, "replay"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("data-dri"), std::string::npos) << r.out;
  r = RunCtl({"--config", bad_verb, "simulate"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("userz"), std::string::npos) << r.out;
}

// A redis-server on a free loopback port, SIGKILLed at scope exit.
class Redis {
 public:
  explicit Redis(const std::string& dir) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), len);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    port_ = ntohs(a.sin_port);
    std::filesystem::create_directories(dir);
    pid_ = fork();
    if (pid_ == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      std::string port = std::to_string(port_);
      execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", dir.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100 && !Up(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Redis() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool Up() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return up;
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(TicketctlCli, RebuildDrawsOneBar) {
  TempDir dir;
  const std::string node = dir.Sub("node");
  ASSERT_EQ(RunCtl({"--data-dir", node, "simulate", "--users", "20000"}).code, 0);
  Ran audit = RunCtl({"--data-dir", node, "audit", "--no-determinism"});
  const uint64_t records = std::stoull(Match(audit.out, R"(ledger: (\d+) records)"));
  Redis redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.Up());
  Ran r = RunCtl({"--data-dir", node, "rebuild", "redis", "--redis-url", redis.url()});
  EXPECT_EQ(r.code, 0) << r.out;
  ExpectOneBar(r.out, "rebuild redis", records);
}

// ticketctl campaign create checks the engine's limits (engine/core/limits.h)
// as it parses its options: one past each is a usage error naming the option.
TEST(TicketctlLimits, CampaignCreateOptionsOverTheEngineLimitsAreUsageErrors) {
  TempDir dir;
  for (std::vector<std::string> extra : {std::vector<std::string>{"--per-user-max", "101"},
                                         {"--choose-s", "3601"},
                                         {"--hold-s", "604801"},
                                         {"--item", "a:A:1:101"},
                                         {"--item", std::string(33, 'i') + ":A:1"}}) {
    std::vector<std::string> args = {"--data-dir", dir.path(), "campaign", "create", "c"};
    args.insert(args.end(), extra.begin(), extra.end());
    Ran r = RunCtl(args);
    EXPECT_EQ(r.code, 2) << extra[0] << " " << extra[1] << ": " << r.out;
    EXPECT_NE(r.out.find(extra[0]), std::string::npos) << r.out;
  }
}

// ticketctl pass verify --jwks-url takes at most kJwksBytesMax (1 MiB) of
// JWKS: a larger answer is an operating error naming the limit.
TEST(TicketctlLimits, AJwksOverItsLimitIsRefused) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  // Answers one request with 2 MiB of JSON-ish bytes.
  std::thread server([listener] {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    const std::string body(size_t{2} << 20, ' ');
    const std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    for (size_t at = 0; at < out.size();) {
      ssize_t n = send(fd, out.data() + at, out.size() - at, MSG_NOSIGNAL);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    close(fd);
  });
  Ran r = RunCtl({"pass", "verify", "x.y.z", "--jwks-url",
                  "http://127.0.0.1:" + std::to_string(port) + "/.well-known/jwks.json"});
  server.join();
  close(listener);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("larger than 1 MiB"), std::string::npos) << r.out;
}
}  // namespace
}  // namespace tl::testing
