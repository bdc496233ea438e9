// The ledger export end to end: a real ticketd serves GET
// /v1/campaigns/{id}/ledger page by page, and `ticketctl export` writes the
// same file from the same log (schemas/EXPORT.md).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/log/ledger_export.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// Runs ticketctl with `args`; returns its exit code, stdout in *out.
int Ctl(const std::vector<std::string>& args, std::string* out = nullptr) {
  std::string cmd = std::string(TL_TICKETCTL);
  for (const std::string& a : args) cmd += " '" + a + "'";
  ShellRun run = RunShell(cmd + " 2>/dev/null");
  if (out) *out = std::move(run.out);
  return run.code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

std::string Base64Decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, acc = 0;
  for (char ch : in) {
    if (ch == '=') break;
    acc = (acc << 6) | static_cast<int>(kAlphabet.find(ch));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

struct Page {
  int status = 0;
  std::string body, next_offset, complete;
};

Page Get(httplib::Client& c, const std::string& id, const std::string& query) {
  Page p;
  auto r = c.Get("/v1/campaigns/" + id + "/ledger" + query);
  if (!r) return p;
  p.status = r->status;
  p.body = r->body;
  p.next_offset = r->get_header_value("Ledger-Next-Offset");
  p.complete = r->get_header_value("Ledger-Complete");
  EXPECT_TRUE(p.status != 200 || r->get_header_value("Content-Type") == "application/x-ndjson");
  return p;
}

void Admin(httplib::Client& c, const std::string& path, const json& body = json::object()) {
  auto r = c.Post(path, Auth(Token("ops", true)), body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->status == 200 || r->status == 201 || r->status == 202) << path << " " << r->body;
}

// Waits until the campaign's JSON satisfies `done`.
json WaitFor(httplib::Client& c, const std::string& id,
             const std::function<bool(const json&)>& done) {
  json j;
  for (int i = 0; i < 300; ++i) {
    j = Body(c.Get("/v1/campaigns/" + id));
    if (done(j)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return j;
}

TEST(Export, PagesEqualTheCliFileAndResumeByOffset) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "0", "--tick-ms", "50"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Admin(*c, "/v1/admin/campaigns",
        {{"id", "exp"}, {"stock", 5}, {"win_bps", 5000}, {"title", "export test"}});
  for (int i = 0; i < 40; ++i) {
    auto r = c->Post("/v1/campaigns/exp/entries",
                     Auth(Token("user-" + std::to_string(i)), "wait=5"), "", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // A duplicate (a rejection in the ledger), a restock, a cancellation.
  auto dup =
      c->Post("/v1/campaigns/exp/entries", Auth(Token("user-0"), "wait=5"), "", "application/json");
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->status, 409);
  Admin(*c, "/v1/admin/campaigns/exp/restock", {{"units", 2}});
  std::string winner;
  for (int i = 0; i < 40 && winner.empty(); ++i) {
    json me =
        Body(c->Get("/v1/campaigns/exp/entries/me", Auth(Token("user-" + std::to_string(i)))));
    if (me["status"] == "won") winner = "user-" + std::to_string(i);
  }
  ASSERT_FALSE(winner.empty());
  auto del = c->Delete("/v1/campaigns/exp/entries/me", Auth(Token(winner)));
  ASSERT_TRUE(del);
  ASSERT_LT(del->status, 300) << del->body;

  // Before the reveal: 409; an unknown campaign: 404.
  EXPECT_EQ(Get(*c, "exp", "").status, 409);
  EXPECT_EQ(Get(*c, "nope", "").status, 404);
  Admin(*c, "/v1/admin/campaigns/exp/close");
  EXPECT_EQ(Get(*c, "exp", "").status, 409);
  Admin(*c, "/v1/admin/campaigns/exp/reveal");
  ASSERT_TRUE(
      WaitFor(*c, "exp", [](const json& j) { return j.contains("seed"); }).contains("seed"));

  // One request with the default limit: the whole export.
  Page all = Get(*c, "exp", "");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.complete, "true");
  std::vector<std::string> lines = Lines(all.body);
  ASSERT_GT(lines.size(), 80u);
  EXPECT_EQ(all.next_offset, std::to_string(lines.size()));
  ASSERT_EQ(all.body.back(), '\n');

  // Every line is one event of this campaign in the protobuf JSON mapping;
  // sequences rise; the seed matches its commitment.
  std::string commitment, seed;
  uint64_t last_seq = 0;
  std::set<std::string> kinds;
  for (const std::string& line : lines) {
    json e = json::parse(line, nullptr, false);
    ASSERT_TRUE(e.is_object()) << line;
    EXPECT_EQ(e["campaign_id"], "exp");
    ASSERT_TRUE(e["sequence"].is_string()) << line;  // 64-bit integers are strings
    uint64_t seq = std::stoull(e["sequence"].get<std::string>());
    EXPECT_GT(seq, last_seq);
    last_seq = seq;
    for (auto& [k, v] : e.items()) {
      if (v.is_object()) kinds.insert(k);
    }
    if (e.contains("campaign_created"))
      commitment = Base64Decode(e["campaign_created"]["seed_commitment"]);
    if (e.contains("seed_revealed")) seed = Base64Decode(e["seed_revealed"]["seed"]);
    if (e.contains("draw_resolved")) {
      EXPECT_TRUE(e["draw_resolved"]["draw_value"].is_string());
      // A zero is left out (proto3 JSON): the draws after the stock ran out.
      const json& d = e["draw_resolved"];
      EXPECT_TRUE(d.contains("stock_left") ? d["stock_left"].is_string() : true);
    }
    // The line is protobuf's JSON mapping of the event it decodes to, byte
    // for byte, from the fast printer and from MessageToJsonString.
    pb::Event decoded;
    google::protobuf::util::JsonParseOptions strict;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &decoded, strict).ok()) << line;
    EXPECT_EQ(ExportLine(decoded), line);
    EXPECT_EQ(ExportLineReference(decoded), line);
  }
  for (const char* k :
       {"campaign_created", "queue_entered", "entry_admitted", "draw_resolved", "entry_rejected",
        "stock_changed", "entry_cancelled", "campaign_closed", "seed_revealed"})
    EXPECT_TRUE(kinds.count(k)) << k;
  ASSERT_EQ(seed.size(), 32u);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  EXPECT_EQ(commitment, std::string(reinterpret_cast<char*>(digest), sizeof digest));

  // Pages of 7, each resumed at the offset the last one gave: the same bytes.
  std::string joined;
  for (std::string offset = "0";;) {
    Page p = Get(*c, "exp", "?limit=7&offset=" + offset);
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_LE(Lines(p.body).size(), 7u);
    EXPECT_EQ(std::stoull(p.next_offset), std::stoull(offset) + Lines(p.body).size());
    joined += p.body;
    offset = p.next_offset;
    if (p.complete == "true") break;
  }
  EXPECT_EQ(joined, all.body);
  // An offset no page ended at (read from the partition's start): lines 13..17.
  Page mid = Get(*c, "exp", "?offset=13&limit=5");
  ASSERT_EQ(mid.status, 200);
  std::string want;
  for (size_t i = 13; i < 18; ++i) want += lines[i] + "\n";
  EXPECT_EQ(mid.body, want);
  EXPECT_EQ(mid.next_offset, "18");
  EXPECT_EQ(mid.complete, "false");
  // At the end: empty and complete; past it, or a bad limit: 400.
  Page end = Get(*c, "exp", "?offset=" + std::to_string(lines.size()));
  EXPECT_EQ(end.status, 200);
  EXPECT_EQ(end.body, "");
  EXPECT_EQ(end.complete, "true");
  EXPECT_EQ(Get(*c, "exp", "?offset=" + std::to_string(lines.size() + 1)).status, 400);
  EXPECT_EQ(Get(*c, "exp", "?limit=0").status, 400);
  EXPECT_EQ(Get(*c, "exp", "?limit=50001").status, 400);
  EXPECT_EQ(Get(*c, "exp", "?offset=x").status, 400);

  // ticketctl export from the same log (read-only, beside the running
  // ticketd): byte for byte the HTTP export.
  const std::string file = dir.path() + "/exp.ndjson";
  EXPECT_EQ(Ctl({"--data-dir", dir.path(), "export", "--campaign", "exp", "--out", file}), 0);
  EXPECT_EQ(ReadFile(file), all.body);
  std::string out;
  EXPECT_EQ(Ctl({"--data-dir", dir.path(), "export", "--campaign", "exp"}, &out), 0);
  EXPECT_EQ(out, all.body);
  // No such campaign: exit 2 and no file.
  const std::string none = dir.path() + "/none.ndjson";
  EXPECT_EQ(Ctl({"--data-dir", dir.path(), "export", "--campaign", "nope", "--out", none}), 2);
  EXPECT_FALSE(std::filesystem::exists(none));
  EXPECT_FALSE(std::filesystem::exists(none + ".partial"));
  EXPECT_EQ(Ctl({"--data-dir", dir.path() + "/missing", "export", "--campaign", "exp"}), 2);
}

// The split api role (no engine of its own) serves the export from the
// Kafka ledger topic, and `ticketctl export --kafka-brokers` writes the same.
TEST(Export, SplitApiRoleReadsTheKafkaLedger) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  const std::vector<std::string> kafka = {"--kafka-brokers", mock.match()};
  TicketdProcess engine(dir.Sub("engine"), RoleArgs("engine", kafka));
  ASSERT_TRUE(engine.ok());
  TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka, {"--user-rate", "0"}));
  ASSERT_TRUE(api.ok());
  auto c = api.Client();
  auto created =
      c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
              json{{"id", "split"}, {"stock", 3}, {"win_bps", 5000}}.dump(), "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  for (int i = 0; i < 20; ++i) {
    auto r = c->Post("/v1/campaigns/split/entries", Auth(Token("s" + std::to_string(i)), "wait=10"),
                     "", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(Get(*c, "split", "").status, 409);
  Admin(*c, "/v1/admin/campaigns/split/close");
  Admin(*c, "/v1/admin/campaigns/split/reveal");
  ASSERT_TRUE(
      WaitFor(*c, "split", [](const json& j) { return j.contains("seed"); }).contains("seed"));
  Page all = Get(*c, "split", "");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.complete, "true");
  std::vector<std::string> lines = Lines(all.body);
  EXPECT_EQ(lines.size(),
            1u + 20 * 3 + 2);  // created, 20 x (entered, admitted, drawn), close, reveal
  std::string joined;
  for (std::string offset = "0";;) {
    Page p = Get(*c, "split", "?limit=9&offset=" + offset);
    ASSERT_EQ(p.status, 200) << p.body;
    joined += p.body;
    offset = p.next_offset;
    if (p.complete == "true") break;
  }
  EXPECT_EQ(joined, all.body);
  std::string out;
  EXPECT_EQ(Ctl({"export", "--campaign", "split", "--kafka-brokers", mock.match()}, &out), 0);
  EXPECT_EQ(out, all.body);
}

}  // namespace
}  // namespace tl::testing
