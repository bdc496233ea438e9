// The engine over the real embedded log and RocksDB state: the first-come
// race, recovery from a lost or stale state store, and damaged logs.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "engine/log/record_frame.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/node.h"
#include "tests/support/harness.h"
#include "tests/support/temp_dir.h"

namespace tl::testing {
namespace {

NodeOptions Options(const std::string& dir, int partitions = 1) {
  NodeOptions o;
  o.data_dir = dir;
  o.partitions = partitions;
  o.config.seed_secret = "engine-test-secret-0123456789";
  return o;
}

pb::Command Entry(const std::string& campaign, const std::string& user, uint64_t t = kT0) {
  pb::Command c = Harness::Cmd(campaign, t);
  c.mutable_request_entry()->set_user_id(user);
  return c;
}

pb::Command Create(const std::string& id, uint64_t stock, uint32_t bps) {
  pb::Command c = Harness::Cmd(id, kT0);
  c.mutable_create_campaign()->set_stock(stock);
  c.mutable_create_campaign()->set_win_bps(bps);
  return c;
}

// Runs the engine until every command now in the log is decided.
void Drain(Node& node) {
  Engine& engine = node.engine();
  engine.Start();
  for (int p = 0; p < engine.partitions(); ++p) {
    uint64_t end = *node.log().commands()->EndOffset(p);
    ASSERT_TRUE(engine.WaitForCommands(p, end, absl::Seconds(60)).ok()) << engine.status();
  }
  engine.Stop();
}

std::vector<pb::Event> ReadLedger(Node& node, int p) {
  std::vector<LogRecord> recs;
  EXPECT_TRUE(node.log().ledger()->Read(p, 0, 1 << 30, &recs).ok());
  std::vector<pb::Event> out;
  for (const auto& r : recs) {
    pb::Event e;
    EXPECT_TRUE(DecodeEvent(r, p, &e).ok());
    out.push_back(e);
  }
  return out;
}

TEST(Race, ThousandUsersStockHundredFirstComeFirstServed) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path(), 4));
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE((*node)->Submit(Create("race", 100, 10000)).ok());
  (*node)->engine().Start();
  // 8 concurrent clients, 125 users each, entering while the engine runs;
  // every user also retries once (a double click).
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 125; ++i) {
        std::string user = "user-" + std::to_string(t * 125 + i);
        ASSERT_TRUE((*node)->Submit(Entry("race", user)).ok());
        if (i % 5 == 0) {
          ASSERT_TRUE((*node)->Submit(Entry("race", user)).ok());
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  (*node)->engine().Stop();
  Drain(**node);
  int p = PartitionFor("race", 4);
  std::set<std::string> queued;
  int won = 0, sold_out = 0, lost = 0, dup = 0;
  for (const auto& e : ReadLedger(**node, p)) {
    if (e.has_queue_entered()) {
      EXPECT_TRUE(queued.insert(e.queue_entered().user_id()).second);
    }
    if (e.has_draw_resolved()) {
      won += e.draw_resolved().outcome() == pb::OUTCOME_WON;
      sold_out += e.draw_resolved().outcome() == pb::OUTCOME_SOLD_OUT;
      lost += e.draw_resolved().outcome() == pb::OUTCOME_LOST;
    }
    dup += e.has_entry_rejected() && e.entry_rejected().reason() == pb::REJECT_DUPLICATE;
  }
  EXPECT_EQ(queued.size(), 1000u);
  EXPECT_EQ(won, 100);
  EXPECT_EQ(sold_out, 900);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(dup, 8 * 25);
  const CampaignState* c = (*node)->engine().partition(p).state().Find("race");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->snap.stock_left(), 0u);
  EXPECT_TRUE(CheckInvariants(*c).ok());
}

TEST(Recovery, RestartLostStoreAndStaleStoreAllConvergeOnTheLedger) {
  TempDir dir;
  Hash digest_full{};
  uint64_t ledger_end = 0;
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok()) << node.status();
    ASSERT_TRUE((*node)->Submit(Create("c", 50, 3000)).ok());
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE((*node)->Submit(Entry("c", "u" + std::to_string(i))).ok());
    Drain(**node);
  }
  std::filesystem::copy(dir.Sub("state"), dir.Sub("state-stale"),
                        std::filesystem::copy_options::recursive);
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    for (int i = 300; i < 600; ++i)
      ASSERT_TRUE((*node)->Submit(Entry("c", "u" + std::to_string(i))).ok());
    pb::Command cancel = Harness::Cmd("c", kT0);
    Drain(**node);
    digest_full = (*node)->engine().partition(0).state().digest;
    ledger_end = *(*node)->log().ledger()->EndOffset(0);
    EXPECT_EQ((*node)->engine().partition(0).state().Find("c")->snap.last_position(), 600u);
  }
  // Plain restart: same state, nothing re-decided.
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    Drain(**node);
    EXPECT_EQ((*node)->engine().partition(0).state().digest, digest_full);
    EXPECT_EQ(*(*node)->log().ledger()->EndOffset(0), ledger_end);
  }
  // Stale store (crash after the ledger append, before the state commit):
  // catch-up folds the missing events and decides no command twice.
  std::filesystem::remove_all(dir.Sub("state"));
  std::filesystem::rename(dir.Sub("state-stale"), dir.Sub("state"));
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_EQ((*node)->engine().partition(0).state().digest, digest_full);
    Drain(**node);
    EXPECT_EQ(*(*node)->log().ledger()->EndOffset(0), ledger_end);
    const CampaignState* c = (*node)->engine().partition(0).state().Find("c");
    EXPECT_EQ(c->snap.last_position(), 600u);
    EXPECT_TRUE(CheckInvariants(*c).ok());
  }
  // Lost store: rebuilt from the ledger alone.
  std::filesystem::remove_all(dir.Sub("state"));
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    EXPECT_EQ((*node)->engine().partition(0).state().digest, digest_full);
    // Events for a command are found again.
    std::vector<pb::Event> events;
    ASSERT_TRUE(EventsForCommand((*node)->log().ledger(), 0, 5, &events).ok());
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].queue_entered().user_id(), "u4");
    EXPECT_EQ(events[2].draw_resolved().position(), 5u);
  }
  // Another secret cannot fold this ledger: a clear refusal, not new draws.
  std::filesystem::remove_all(dir.Sub("state"));
  NodeOptions other = Options(dir.path());
  other.config.seed_secret = "some-other-secret-0123456789";
  auto node = Node::Open(other);
  EXPECT_TRUE(absl::IsDataLoss(node.status()) || absl::IsFailedPrecondition(node.status()));
  EXPECT_NE(node.status().message().find("secret"), std::string_view::npos) << node.status();
}

TEST(Recovery, RejectedUsersSurviveARestartAndClearOnEntry) {
  TempDir dir;
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    pb::Command create = Create("c", 5, 10000);
    create.mutable_create_campaign()->set_max_entries(1);
    ASSERT_TRUE((*node)->Submit(create).ok());
    ASSERT_TRUE((*node)->Submit(Entry("c", "first")).ok());
    ASSERT_TRUE((*node)->Submit(Entry("c", "late")).ok());  // full
    Drain(**node);
    const CampaignState* c = (*node)->engine().partition(0).state().Find("c");
    ASSERT_EQ(c->rejected_users.count("late"), 1u);
    EXPECT_EQ(c->rejected_users.at("late"), pb::REJECT_CAMPAIGN_FULL);
    EXPECT_EQ(c->rejected_users.count("first"), 0u);
  }
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok());
  const CampaignState* c = (*node)->engine().partition(0).state().Find("c");
  EXPECT_EQ(c->rejected_users.at("late"), pb::REJECT_CAMPAIGN_FULL);
}

TEST(Follower, FoldsTheLedgerWithoutTheSecretAndLearnsTheSeedAtReveal) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok());
  ASSERT_TRUE((*node)->Submit(Create("c", 3, 5000)).ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE((*node)->Submit(Entry("c", "u" + std::to_string(i))).ok());
  LedgerFollower follower((*node)->log().ledger(), EngineConfig{});  // no secret
  follower.Start();
  Drain(**node);
  uint64_t end = *(*node)->log().commands()->EndOffset(0);
  ASSERT_TRUE(follower.WaitForCommands(0, end, absl::Seconds(10)).ok()) << follower.status();
  Hash engine_digest = (*node)->engine().partition(0).state().digest;
  follower.WithState(0, [&](const EngineState& s, uint64_t) {
    EXPECT_EQ(s.digest, engine_digest);
    EXPECT_EQ(s.Find("c")->seed, Seed{});  // not known before the reveal
  });
  pb::Command close = Harness::Cmd("c", kT0), reveal = Harness::Cmd("c", kT0);
  close.mutable_close_campaign();
  reveal.mutable_reveal_seed();
  ASSERT_TRUE((*node)->Submit(close).ok());
  ASSERT_TRUE((*node)->Submit(reveal).ok());
  Drain(**node);
  ASSERT_TRUE(follower.WaitForCommands(0, end + 2, absl::Seconds(10)).ok());
  Seed engine_seed = (*node)->engine().partition(0).state().Find("c")->seed;
  follower.WithState(0, [&](const EngineState& s, uint64_t) {
    EXPECT_EQ(s.Find("c")->seed, engine_seed);  // learnt from SeedRevealed, checked
    EXPECT_TRUE(s.Find("c")->snap.revealed());
  });
  follower.Stop();
  // And it cannot decide.
  EngineState empty;
  EventList out;
  EXPECT_TRUE(absl::IsFailedPrecondition(
      Decide(empty, EngineConfig{}, Limits(), Create("x", 1, 1), 0, &out)));
}

TEST(Recovery, ATornAnswerIsDecidedAgainNotHalfFolded) {
  // What a crashed Kafka writer can leave behind (the 2.0.2 mock keeps a
  // dead transaction's records visible): only part of one command's answer.
  TempDir clean_dir, torn_dir;
  auto clean = Node::Open(Options(clean_dir.path()));
  ASSERT_TRUE(clean.ok());
  ASSERT_TRUE((*clean)->Submit(Create("c", 5, 10000)).ok());
  ASSERT_TRUE((*clean)->Submit(Entry("c", "alice")).ok());
  Drain(**clean);
  std::vector<LogRecord> ledger;
  ASSERT_TRUE((*clean)->log().ledger()->Read(0, 0, 100, &ledger).ok());
  ASSERT_EQ(ledger.size(),
            4u);  // CampaignCreated, then QueueEntered + EntryAdmitted + DrawResolved
  {
    auto torn = Node::Open(Options(torn_dir.path()));
    ASSERT_TRUE(torn.ok());
    std::vector<LogRecord> commands;
    ASSERT_TRUE((*clean)->log().commands()->Read(0, 0, 100, &commands).ok());
    ASSERT_TRUE((*torn)->log().commands()->Append(0, commands).ok());
    ASSERT_TRUE((*torn)->log().ledger()->Append(0, {ledger[0]}).ok());
    ASSERT_TRUE((*torn)->log().ledger()->Append(0, {ledger[1], ledger[2]}).ok());  // torn
  }
  auto torn = Node::Open(Options(torn_dir.path()));
  ASSERT_TRUE(torn.ok()) << torn.status();
  // Recovery folded the whole answer of command 0 only.
  EXPECT_EQ((*torn)->engine().partition(0).state().next_sequence, 2u);
  Drain(**torn);
  EXPECT_EQ((*torn)->engine().partition(0).state().digest,
            (*clean)->engine().partition(0).state().digest);
  // Every reader folds each sequence once: the torn records, then the
  // rewrite whose repeated sequences it drops.
  LedgerFollower follower((*torn)->log().ledger(), EngineConfig{});
  follower.Start();
  ASSERT_TRUE(follower.WaitForCommands(0, 2, absl::Seconds(10)).ok()) << follower.status();
  follower.Stop();
  follower.WithState(0, [&](const EngineState& s, uint64_t) {
    EXPECT_EQ(s.digest, (*clean)->engine().partition(0).state().digest);
    EXPECT_EQ(s.Find("c")->snap.won(), 1u);
  });
}

TEST(EngineDamage, ARepeatedSequenceIsDroppedOnlyIfItIsTheSameRecord) {
  TempDir dir;
  std::vector<LogRecord> ledger;
  Hash digest{};
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    ASSERT_TRUE((*node)->Submit(Create("c", 5, 10000)).ok());
    ASSERT_TRUE((*node)->Submit(Entry("c", "alice")).ok());
    Drain(**node);
    digest = (*node)->engine().partition(0).state().digest;
    ASSERT_TRUE((*node)->log().ledger()->Read(0, 0, 100, &ledger).ok());
    // A retry delivered twice: the very same record again.
    ASSERT_TRUE((*node)->log().ledger()->Append(0, {ledger[2]}).ok());
  }
  std::filesystem::remove_all(dir.Sub("state"));
  {
    auto node = Node::Open(Options(dir.path()));  // recovery drops the identical repeat
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_EQ((*node)->engine().partition(0).state().digest, digest);
    // A forged record at a sequence already folded.
    pb::Event forged;
    ASSERT_TRUE(forged.ParseFromString(ledger[3].value));
    forged.mutable_draw_resolved()->set_outcome(pb::OUTCOME_LOST);
    ASSERT_TRUE((*node)->log().ledger()->Append(0, {{0, "c", forged.SerializeAsString()}}).ok());
    LedgerFollower follower((*node)->log().ledger(), EngineConfig{});
    follower.Start();
    EXPECT_FALSE(follower.WaitForCommands(0, 99, absl::Seconds(5)).ok());
    follower.Stop();
    absl::Status st = follower.status();
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_NE(st.message().find("a different record at sequence 4"), std::string_view::npos) << st;
  }
  std::filesystem::remove_all(dir.Sub("state"));
  auto node = Node::Open(Options(dir.path()));
  EXPECT_TRUE(absl::IsDataLoss(node.status())) << node.status();
  EXPECT_NE(node.status().message().find("a different record at sequence 4"),
            std::string_view::npos)
      << node.status();
}

TEST(EngineDamage, CorruptCommandStopsTheEngineNamingTheOffset) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok());
  ASSERT_TRUE((*node)->Submit(Create("c", 5, 10000)).ok());
  ASSERT_TRUE((*node)->Submit(Entry("c", "a")).ok());
  ASSERT_TRUE((*node)->Submit(Entry("c", "b")).ok());
  std::string raw = EncodeChunk({LogRecord{0, "c", Entry("c", "b").SerializeAsString()}});
  raw[raw.size() - 2] ^= 0x40;
  ASSERT_TRUE((*node)->log().commands()->OverwriteRawForTesting(0, 2, raw).ok());
  Engine& engine = (*node)->engine();
  engine.Start();
  absl::Status st = engine.WaitForCommands(0, 3, absl::Seconds(10));
  engine.Stop();
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("commands log, partition 0, offset 2"), std::string_view::npos) << st;
  // Nothing past the damage was decided or folded.
  EXPECT_EQ(*(*node)->log().ledger()->EndOffset(0), 0u);
}

TEST(EngineDamage, UnknownCommandTypeIsNotSkipped) {
  TempDir dir;
  auto node = Node::Open(Options(dir.path()));
  ASSERT_TRUE(node.ok());
  pb::Command future = Harness::Cmd("c", kT0);  // a body this engine does not know
  std::string bytes = future.SerializeAsString() + std::string("\xfa\x06\x00", 3);  // field 111
  ASSERT_TRUE((*node)->log().commands()->Append(0, {LogRecord{0, "c", bytes}}).ok());
  Engine& engine = (*node)->engine();
  engine.Start();
  absl::Status st = engine.WaitForCommands(0, 1, absl::Seconds(10));
  engine.Stop();
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("offset 0: unknown command type"), std::string_view::npos) << st;
}

TEST(EngineDamage, UnknownOrCorruptLedgerEventFailsRecoveryNamingTheOffset) {
  TempDir dir;
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    ASSERT_TRUE((*node)->Submit(Create("c", 5, 10000)).ok());
    ASSERT_TRUE((*node)->Submit(Entry("c", "a")).ok());
    Drain(**node);
    // An event type from the future at ledger offset 3.
    pb::Event e;
    e.set_sequence(4);
    e.set_campaign_id("c");
    std::string bytes = e.SerializeAsString() + std::string("\xfa\x06\x00", 3);
    ASSERT_TRUE((*node)->log().ledger()->Append(0, {LogRecord{0, "c", bytes}}).ok());
  }
  std::filesystem::remove_all(dir.Sub("state"));
  auto node = Node::Open(Options(dir.path()));
  EXPECT_TRUE(absl::IsDataLoss(node.status())) << node.status();
  EXPECT_NE(node.status().message().find("ledger log, partition 0, offset 4: unknown event type"),
            std::string_view::npos)
      << node.status();
}

TEST(EngineDamage, FlippedLedgerByteFailsRecovery) {
  TempDir dir;
  uint64_t first = 0;
  {
    auto node = Node::Open(Options(dir.path()));
    ASSERT_TRUE(node.ok());
    ASSERT_TRUE((*node)->Submit(Create("c", 5, 10000)).ok());
    ASSERT_TRUE((*node)->Submit(Entry("c", "a")).ok());
    Drain(**node);
    std::string raw;
    ASSERT_TRUE((*node)->log().ledger()->RawChunkForTesting(0, 2, &first, &raw).ok());
    raw[raw.size() / 2] ^= 0x04;
    ASSERT_TRUE((*node)->log().ledger()->OverwriteRawForTesting(0, first, raw).ok());
  }
  std::filesystem::remove_all(dir.Sub("state"));
  auto node = Node::Open(Options(dir.path()));
  EXPECT_TRUE(absl::IsDataLoss(node.status()));
  EXPECT_NE(node.status().message().find(
                absl::StrCat("ledger log, partition 0, offset ", first, ": checksum mismatch")),
            std::string_view::npos)
      << node.status();
}

}  // namespace
}  // namespace tl::testing

namespace tl::testing {
namespace {

// Digest version 2 (engine/LOG_FORMAT.md): one SHA-256 per command answer
// over the previous digest and each event's u32 little-endian length and
// bytes. Recomputed here from the definition, and pinned.
TEST(Digest, ChainsOncePerCommandAnswerAndIsPinned) {
  EngineState state;
  EngineConfig config;
  config.seed_secret = "digest-pin-secret-0123456789";
  Limits limits;
  EventList events;
  std::vector<std::vector<std::string>> answers;
  auto run = [&](const pb::Command& cmd, uint64_t offset) {
    answers.emplace_back();
    auto emit = [&](const pb::Event&, std::string&& bytes) {
      answers.back().push_back(bytes);
      return absl::OkStatus();
    };
    ASSERT_TRUE(DecideAndFold(&state, config, limits, cmd, offset, &events, emit).ok());
  };
  pb::Command create = Harness::Cmd("pin", kT0);
  create.mutable_create_campaign()->set_stock(2);
  create.mutable_create_campaign()->set_win_bps(5000);
  run(create, 0);
  for (int i = 0; i < 6; ++i) run(Entry("pin", "user-" + std::to_string(i), kT0 + i), i + 1);
  EXPECT_EQ(state.answer.left, 0u);
  EXPECT_EQ(state.next_sequence, 1u + 1 + 6 * 3);

  Hash expected{};
  for (const auto& answer : answers) {
    ASSERT_FALSE(answer.empty());
    std::string input(reinterpret_cast<const char*>(expected.data()), expected.size());
    for (const std::string& bytes : answer) {
      const uint32_t n = static_cast<uint32_t>(bytes.size());
      for (int b = 0; b < 4; ++b) input.push_back(static_cast<char>((n >> (8 * b)) & 0xff));
      input += bytes;
    }
    expected = Sha256(input);
  }
  EXPECT_EQ(ToHex(state.digest), ToHex(expected));
  // Changes only with the digest definition (then kDigestVersion and
  // LOG_FORMAT.md change with it) or the events' bytes.
  EXPECT_EQ(ToHex(state.digest),
            "72d916457285ff8c987cc34f14b3fb6131d05990a735aff1a02a650d1b744781");

  // Folding the same bytes one event at a time (as the follower and the
  // audit do) reaches the same digest; a part-way answer leaves it alone.
  EngineState refold;
  for (const auto& answer : answers) {
    for (size_t i = 0; i < answer.size(); ++i) {
      pb::Event e;
      ASSERT_TRUE(e.ParseFromString(answer[i]));
      Hash before = refold.digest;
      ASSERT_TRUE(Fold(&refold, config, e, answer[i]).ok());
      if (i + 1 < answer.size()) {
        EXPECT_EQ(refold.digest, before);
      }
    }
  }
  EXPECT_EQ(refold.digest, state.digest);
}

TEST(Digest, AStateStoreWithAnOldDigestVersionIsRefusedNamingTheVersions) {
  TempDir dir;
  {
    auto store = StateStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    EngineState state;
    state.next_sequence = 4;
    pb::Checkpoint cp;  // as a version-1 engine wrote it: no digest_version
    cp.set_next_sequence(4);
    cp.set_ledger_next_offset(3);
    cp.set_digest(std::string(32, '\x11'));
    ASSERT_TRUE((*store)->Commit(0, &state, cp, /*sync=*/false).ok());
  }
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  EngineState state;
  pb::Checkpoint cp;
  absl::Status st = (*store)->Load(0, EngineConfig{"s"}, &state, &cp);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("digest is version 1 and this engine chains version 2"),
            std::string::npos)
      << st;
}

}  // namespace
}  // namespace tl::testing
