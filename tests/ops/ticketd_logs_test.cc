// ticketd's logs and command line, against a real ticketd process: with the
// access log on and requests that carry a bearer token, a stream ticket and a
// query string, nothing secret reaches stdout or stderr (the secrets, the
// tokens, the ticket, the query); an access line has method, route template,
// status and duration. And: --version, usage errors exit 2, an unknown key in
// a --config file is an error naming the key.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/jwt.h"
#include "tests/support/temp_dir.h"

namespace tl {
namespace {

using testing::TempDir;

// Secrets no test elsewhere uses, so a match can only come from this run.
constexpr char kJwtSecret[] = "logs-test-jwt-secret-7f3a91c2d4e5";
constexpr char kSeedSecret[] = "logs-test-seed-secret-b8e2c6a0f1d9";
constexpr char kQueryMarker[] = "qmarker-5e1f0c";
constexpr char kPassKeyBody[] = "MC4CAQAwBQYDK2VwBCIEIMASTrcbbzqZEfrweekw7wnhjdLnNHJ9G/YH8DvyZB0w";
const std::string kPassKeyPem =
    std::string("-----BEGIN PRIVATE KEY-----\n") + kPassKeyBody + "\n-----END PRIVATE KEY-----\n";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `args` (ticketd's) with stdout and stderr both into `log`; the seed
// secret in the environment, the token secret in a file named by a flag.
pid_t Start(const std::vector<std::string>& args, const std::string& log, bool pass_key = true) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    setenv("TICKETLEDGER_SEED_SECRET", kSeedSecret, 1);
    if (pass_key) {
      setenv("TICKETD_PASS_KEY", kPassKeyPem.c_str(), 1);
    } else {
      unsetenv("TICKETD_PASS_KEY");
    }
    unsetenv("TICKETD_JWT_SECRET");
    std::vector<std::string> all = {TL_TICKETD};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(TL_TICKETD, argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// Runs ticketd with `args` to its end; its exit code and what it printed.
std::pair<int, std::string> RunTicketd(const std::vector<std::string>& args, bool pass_key = true) {
  TempDir dir;
  const std::string log = dir.Sub("out.log");
  const int code = WaitExit(Start(args, log, pass_key));
  return {code, ReadAll(log)};
}

int WaitForPort(const std::string& log) {
  const std::regex re("listening on [0-9.]+:([0-9]+)");
  for (int i = 0; i < 300; ++i) {
    std::smatch m;
    const std::string out = ReadAll(log);
    if (std::regex_search(out, m, re)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// Creates a campaign, enters it, reads the entry, takes a stream ticket and
// opens the SSE stream with it, and reads with a query string; returns every
// token and ticket it used.
std::vector<std::string> DriveRequests(int port) {
  const int64_t exp = static_cast<int64_t>(time(nullptr)) + 600;
  const std::string admin = api::MintJwt({"ops", true, exp}, kJwtSecret);
  const std::string user = api::MintJwt({"alice", false, exp}, kJwtSecret);
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  auto r = c.Post("/v1/admin/campaigns", Bearer(admin),
                  R"({"id":"logs","stock":5,"win_bps":5000,"admission_rate_per_s":0})",
                  "application/json");
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  r = c.Post("/v1/campaigns/logs/entries", Bearer(user), "", "application/json");
  EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
  // 202 is durable, not yet decided: the entry shows once the engine has it.
  for (int i = 0; i < 100; ++i) {
    r = c.Get("/v1/campaigns/logs/entries/me", Bearer(user));
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  r = c.Post("/v1/campaigns/logs/stream-tickets", Bearer(user), "", "application/json");
  EXPECT_TRUE(r && r->status == 201);
  const std::string ticket = r ? nlohmann::json::parse(r->body).value("ticket", "") : "";
  EXPECT_FALSE(ticket.empty());
  // The stream ends after --stream-max-s.
  r = c.Get("/v1/campaigns/logs/events?ticket=" + ticket);
  EXPECT_TRUE(r && r->status == 200);
  r = c.Get(std::string("/v1/campaigns/logs/results?cursor=") + kQueryMarker);
  EXPECT_TRUE(r);
  r = c.Get("/v1/campaigns/logs/entries/me", Bearer(user + "x"));  // forged: 401
  EXPECT_TRUE(r && r->status == 401);
  // Refused by the transport before any route: headers over 8 KiB.
  r = c.Get("/v1/campaigns/logs", {{"X-Padding", std::string(9000, 'p')}});
  EXPECT_TRUE(r && r->status == 431);
  // A browser session: the token becomes the tl_session cookie, which the
  // browser then sends with every request.
  const std::string browser = api::MintJwt({"bob", false, exp + 1}, kJwtSecret);
  r = c.Post("/v1/session", Bearer(browser), "", "application/json");
  EXPECT_TRUE(r && r->status == 200 &&
              r->get_header_value("Set-Cookie").find(browser) != std::string::npos);
  const httplib::Headers cookie = {{"Cookie", "tl_session=" + browser},
                                   {"X-Requested-With", "ticketledger"}};
  r = c.Post("/v1/campaigns/logs/entries", cookie, "", "application/json");
  EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
  r = c.Get("/v1/session", cookie);
  EXPECT_TRUE(r && r->status == 200);
  return {admin, user, user + "x", ticket, browser};
}

TEST(TicketdLogs, NothingSecretAndOneAccessLinePerRequest) {
  TempDir dir;
  const std::string secret_file = dir.Sub("jwt-secret");
  std::ofstream(secret_file) << kJwtSecret << "\n";
  const std::string log = dir.Sub("ticketd.log");
  pid_t pid = Start({"--port", "0", "--data-dir", dir.Sub("data"), "--jwt-secret-file", secret_file,
                     "--access-log", "--log-level", "debug", "--stream-max-s", "1"},
                    log);
  const int port = WaitForPort(log);
  ASSERT_GT(port, 0) << ReadAll(log);
  const std::vector<std::string> tokens = DriveRequests(port);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);

  const std::string out = ReadAll(log);
  for (const std::string& secret :
       {std::string(kJwtSecret), std::string(kSeedSecret), std::string(kPassKeyBody)})
    EXPECT_EQ(out.find(secret), std::string::npos) << "a secret is in the logs:\n" << out;
  for (const std::string& token : tokens) {
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(out.find(token), std::string::npos) << "a token is in the logs:\n" << out;
    // Not even its signature (the part a token's holder could not forge).
    EXPECT_EQ(out.find(token.substr(token.rfind('.'))), std::string::npos) << out;
  }
  EXPECT_EQ(out.find(kQueryMarker), std::string::npos) << "a query string is in the logs";
  EXPECT_EQ(out.find("Bearer"), std::string::npos) << out;

  // UTC time, level, component, then method, route template, status, duration.
  const std::string when = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)";
  EXPECT_TRUE(std::regex_search(
      out,
      std::regex(when +
                 R"( info access: POST /v1/campaigns/\{id\}/entries 202 [0-9]+\.[0-9]{3}ms\n)")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex(when + R"( info access: GET /v1/campaigns/\{id\}/events 200 [0-9.]+ms\n)")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out,
      std::regex(when + R"( info access: GET /v1/campaigns/\{id\}/entries/me 401 [0-9.]+ms\n)")))
      << out;
  // The transport's own refusals get a line too, naming the limit.
  EXPECT_TRUE(
      std::regex_search(out, std::regex(when + R"( info access: - - 431 refused: header_bytes\n)")))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(when + " info ticketd: .*draining\n"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(when + " info ticketd: stopped\n"))) << out;
}

TEST(TicketdLogs, NoAccessLogUnlessAskedAndSettingsFromAConfigFile) {
  TempDir dir;
  const std::string log = dir.Sub("ticketd.log");
  // Settings from a --config file this time.
  const std::string config = dir.Sub("ticketd.toml");
  std::ofstream(config) << "dev = true\nlog-level = \"info\"\nport = 0\n";
  pid_t pid = Start({"--config", config, "--data-dir", dir.Sub("data")}, log);
  const int port = WaitForPort(log);
  ASSERT_GT(port, 0) << ReadAll(log);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/healthz");
  EXPECT_TRUE(r && r->status == 200);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
  const std::string out = ReadAll(log);
  EXPECT_EQ(out.find(" access: "), std::string::npos) << out;
  EXPECT_NE(out.find(" warning ticketd: --dev: using development secrets"), std::string::npos)
      << out;
}

// librdkafka's own lines (here: a broker that refuses connections) go
// through the same logger as ticketd's, with level and component "kafka".
TEST(TicketdLogs, KafkaClientLinesGoThroughTheLogger) {
  TempDir dir;
  const std::string log = dir.Sub("ticketd.log");
  pid_t pid = Start({"--dev", "--port", "0", "--data-dir", dir.Sub("data"), "--role", "api",
                     "--kafka-brokers", "127.0.0.1:1"},
                    log);
  const std::regex line(R"(\d{4}-\d\d-\d\dT\S+Z error kafka: rdkafka#\S+ \w+: .*127\.0\.0\.1:1)");
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = std::regex_search(ReadAll(log), line);
  }
  kill(pid, SIGKILL);
  WaitExit(pid);
  EXPECT_TRUE(seen) << ReadAll(log);
}

TEST(TicketdCommandLine, VersionUsageAndConfigKeys) {
  auto [code, out] = RunTicketd({"--version"});
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(std::regex_match(out, std::regex("ticketd [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << out;

  std::tie(code, out) = RunTicketd({"--port", "not-a-port"});
  EXPECT_EQ(code, 2) << out;
  std::tie(code, out) = RunTicketd({"--no-such-flag"});
  EXPECT_EQ(code, 2) << out;
  std::tie(code, out) = RunTicketd({"--log-level", "loud"});
  EXPECT_EQ(code, 2) << out;
  std::tie(code, out) = RunTicketd({"--role", "engine", "--dev"});  // needs --kafka-brokers
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--role engine needs --kafka-brokers"), std::string::npos) << out;

  TempDir dir;
  const std::string config = dir.Sub("ticketd.toml");
  std::ofstream(config) << "port = 0\nio-threads = 1\nportt = 8081\n";
  std::tie(code, out) = RunTicketd({"--config", config, "--dev"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("unknown key 'portt'"), std::string::npos) << out;
}

// Roles all and api sign admission passes: no key and no --dev is a usage
// error naming where the key comes from; a key that is not Ed25519 too,
// naming the file but not the key.
TEST(TicketdCommandLine, ThePassKeyIsRequiredAndChecked) {
  TempDir dir;
  const std::string secret_file = dir.Sub("jwt-secret");
  std::ofstream(secret_file) << kJwtSecret << "\n";
  auto [code, out] = RunTicketd(
      {"--port", "0", "--data-dir", dir.Sub("data"), "--jwt-secret-file", secret_file}, false);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("TICKETD_PASS_KEY"), std::string::npos) << out;
  EXPECT_NE(out.find("--pass-key-file"), std::string::npos) << out;
  const std::string x25519 = dir.Sub("x25519.pem");
  constexpr char kX25519Body[] = "MC4CAQAwBQYDK2VuBCIEIJAqcHUT4HCq3iBN1lFmei7tU2wADsikPplDQHOEOSdS";
  std::ofstream(x25519) << "-----BEGIN PRIVATE KEY-----\n"
                        << kX25519Body << "\n-----END PRIVATE KEY-----\n";
  std::tie(code, out) = RunTicketd({"--port", "0", "--data-dir", dir.Sub("data"),
                                    "--jwt-secret-file", secret_file, "--pass-key-file", x25519},
                                   false);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("not an Ed25519 key"), std::string::npos) << out;
  EXPECT_NE(out.find(x25519), std::string::npos) << out;
  EXPECT_EQ(out.find(kX25519Body), std::string::npos) << out;
}

// The token and seed secrets are at least kSecretBytesMin (16) bytes: a
// shorter one is a usage error at start that never prints the secret.
TEST(TicketdLimits, ShortSecretsAreRefusedAtStart) {
  TempDir dir;
  const std::string secret_file = dir.Sub("jwt-secret");
  std::ofstream(secret_file) << "fifteen-bytes.."
                             << "\n";  // 15 bytes
  auto [code, out] = RunTicketd(
      {"--port", "0", "--data-dir", dir.Sub("data"), "--dev", "--jwt-secret-file", secret_file});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("secrets must be at least 16 bytes"), std::string::npos) << out;
  EXPECT_EQ(out.find("fifteen-bytes.."), std::string::npos) << out;
}
}  // namespace
}  // namespace tl
