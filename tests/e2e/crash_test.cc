// Crash: a real `ticketctl simulate` child is SIGKILLed at >= 20 random
// points of a 100,000-entry run and restarted each time (--resume). The final
// digest must equal an uninterrupted run's, and every append the child
// acknowledged must be in the log exactly once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "engine/core/fold.h"
#include "engine/runtime/node.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

constexpr char kSecret[] = "crash-test-secret-0123456789";

// Starts ticketctl with stdout to `out_file`; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_file) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    std::string bin = TL_TICKETCTL;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    setenv("TICKETLEDGER_SEED_SECRET", kSecret, 1);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SimArgs(const std::string& dir) {
  // Wins held for 1 s of virtual time, every third user's shop confirming:
  // the rest expire while the run goes on, and their units go back.
  return {"simulate",    "--sim-dir",       dir,   "--users", "100000", "--stock",
          "5000",        "--win-bps",       "500", "--rate",  "50000",  "--hold-s",
          "1",           "--confirm-every", "3",   "--batch", "16",     "--resume",
          "--print-acks"};
}

std::string DigestOf(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("digest +([0-9a-f]{64})"))) return m[1];
  return "";
}

// A count from the summary ("  expired    123"), -1 when absent.
long long CountOf(const std::string& output, const std::string& name) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("\\n  " + name + " +([0-9]+)\\n")))
    return std::stoll(m[1]);
  return -1;
}

// Follows the victim's `acked N` lines in `out` until it acknowledged
// `target` commands (true: still running) or exited (false, `status` set).
// Kill points are chosen by progress, not by time: a time window measured on
// a loaded machine let an idle one finish the run before any kill.
bool RunsUntilAcked(pid_t pid, const std::string& out, uint64_t target, uint64_t* max_acked,
                    int* status) {
  std::ifstream in;
  std::string line, partial;
  for (int i = 0; i < 120'000; ++i) {
    if (!in.is_open()) in.open(out);
    while (in.is_open() && std::getline(in, line)) {
      if (in.eof()) {  // a line still being written: keep it for the next read
        partial += line;
        break;
      }
      line = partial + line;
      partial.clear();
      if (line.rfind("acked ", 0) == 0)
        *max_acked = std::max<uint64_t>(*max_acked, std::stoull(line.substr(6)));
    }
    if (in.is_open()) in.clear();
    if (*max_acked >= target) return true;
    if (waitpid(pid, status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;  // a minute without reaching it: kill it where it stands
}

TEST(Crash, SigkillAtRandomPointsLosesAndDuplicatesNothing) {
  TempDir dir;
  // The reference: one uninterrupted run.
  pid_t ref = Spawn(SimArgs(dir.Sub("ref")), dir.Sub("ref.out"));
  int status = 0;
  ASSERT_EQ(waitpid(ref, &status, 0), ref);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(dir.Sub("ref.out"));
  std::string want = DigestOf(ReadFile(dir.Sub("ref.out")));
  ASSERT_FALSE(want.empty());

  // The victim: killed at random points, restarted each time.
  std::mt19937_64 rng(42);
  const std::string victim = dir.Sub("victim");
  uint64_t max_acked = 0;
  int kills = 0, attempts = 0;
  // Each kill lands a random 1..6,000 acknowledged commands after the last
  // (20 kills: ~60,000 of the 100,003 on average, so all land mid-run).
  while (kills < 20 && attempts < 40) {
    ++attempts;
    std::string out = dir.Sub("victim." + std::to_string(attempts) + ".out");
    pid_t pid = Spawn(SimArgs(victim), out);
    int st = 0;
    if (RunsUntilAcked(pid, out, max_acked + 1 + rng() % 6000, &max_acked, &st)) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      ++kills;
    } else {
      ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << ReadFile(out);
    }
    // Acks printed between the last look and the kill were durable too.
    std::string text = ReadFile(out);
    std::regex ack("acked ([0-9]+)");
    for (std::sregex_iterator it(text.begin(), text.end(), ack), end; it != end; ++it)
      max_acked = std::max<uint64_t>(max_acked, std::stoull((*it)[1]));
  }
  ASSERT_GE(kills, 20) << "the run finished before 20 kills landed";
  pid_t last = Spawn(SimArgs(victim), dir.Sub("final.out"));
  ASSERT_EQ(waitpid(last, &status, 0), last);
  std::string final_out = ReadFile(dir.Sub("final.out"));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << final_out;
  EXPECT_EQ(DigestOf(final_out), want) << final_out;
  const std::string ref_out = ReadFile(dir.Sub("ref.out"));
  for (const char* name : {"won", "confirmed", "expired", "stock_left"})
    EXPECT_EQ(CountOf(final_out, name), CountOf(ref_out, name)) << name;
  // The run did hold, confirm and expire (not a vacuous pass).
  EXPECT_GT(CountOf(ref_out, "confirmed"), 0) << ref_out;
  EXPECT_GT(CountOf(ref_out, "expired"), 0) << ref_out;

  // Every acknowledged append is present exactly once.
  NodeOptions o;
  o.data_dir = victim;
  o.config.seed_secret = kSecret;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status();
  std::vector<LogRecord> recs;
  ASSERT_TRUE((*node)->log().commands()->Read(0, 0, 1 << 30, &recs).ok());
  EXPECT_GE(recs.size(), max_acked);
  std::set<std::string> users;
  size_t entries = 0;
  for (const auto& r : recs) {
    pb::Command c;
    ASSERT_TRUE(c.ParseFromString(r.value));
    if (c.has_request_entry()) {
      ++entries;
      EXPECT_TRUE(users.insert(c.request_entry().user_id()).second) << c.request_entry().user_id();
    }
  }
  EXPECT_EQ(entries, 100000u);
  EXPECT_EQ(users.size(), 100000u);
  // And the ledger answered each exactly once.
  const CampaignState* c = (*node)->engine().partition(0).state().Find("sim");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->snap.last_position(), 100000u);
  // The only refusals are the shop's confirmations of users who did not win.
  EXPECT_EQ(c->snap.rejected(),
            recs.size() - entries - c->snap.confirmed() - 3 -
                static_cast<size_t>(std::count_if(recs.begin(), recs.end(), [](const LogRecord& r) {
                  pb::Command x;
                  return x.ParseFromString(r.value) && x.has_tick();
                })));
  EXPECT_TRUE(CheckInvariants(*c).ok());
  std::printf("crash test: %d kills in %d attempts; %llu acknowledged appends verified\n", kills,
              attempts, static_cast<unsigned long long>(max_acked));
}

}  // namespace
}  // namespace tl::testing
