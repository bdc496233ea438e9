// Engine benchmarks (Google Benchmark). Figures and commands in RESULTS.md.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <filesystem>

#include "absl/strings/str_format.h"
#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/node.h"
#include "tests/support/temp_dir.h"

namespace tl {
namespace {

constexpr uint64_t kT0 = 1'767'225'600'000;

pb::Command CreateCmd(uint64_t stock, uint32_t bps) {
  pb::Command c;
  c.set_campaign_id("bench");
  c.set_time_ms(kT0);
  c.mutable_create_campaign()->set_stock(stock);
  c.mutable_create_campaign()->set_win_bps(bps);
  return c;
}

pb::Command EntryCmd(uint64_t i) {
  pb::Command c;
  c.set_campaign_id("bench");
  c.set_time_ms(kT0 + i / 1000);
  c.mutable_request_entry()->set_user_id(absl::StrFormat("user-%08d", i));
  return c;
}

void BM_Draw(benchmark::State& state) {
  Drawer d(DeriveSeed("bench-secret", "bench"));
  uint64_t pos = 0;
  for (auto _ : state) benchmark::DoNotOptimize(d.DrawValue("bench", ++pos, "user-00012345"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Draw);

// decide + encode + digest + fold of one entry (QueueEntered, EntryAdmitted,
// DrawResolved), in memory, one core. Arg: win_bps (stock = 5% of entries).
// With `held`, every win holds its unit (hold_s 600) and is confirmed by the
// shop right after (a ConfirmEntry command each): issue 14's overhead.
void DecideFold(benchmark::State& state, bool held) {
  EngineConfig config{"bench-secret-0123456789"};
  Limits limits;
  const uint64_t n = 1'000'000;
  const uint32_t bps = static_cast<uint32_t>(state.range(0));
  std::vector<pb::Command> cmds;
  cmds.reserve(n);
  for (uint64_t i = 0; i < n; ++i) cmds.push_back(EntryCmd(i));
  pb::Command confirm;
  confirm.set_campaign_id("bench");
  std::unique_ptr<EngineState> held_state;
  uint64_t confirmed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    held_state = std::make_unique<EngineState>();  // the last run's state freed untimed
    EngineState& s = *held_state;
    EventList created;
    pb::Command create = CreateCmd(n / 20, bps);
    if (held) create.mutable_create_campaign()->set_hold_s(600);
    (void)Decide(s, config, limits, create, 0, &created);
    created[0].set_sequence(1);
    (void)Fold(&s, config, created[0], EncodeDeterministic(created[0]));
    state.ResumeTiming();
    // The engine's own step (DecideAndFold), with one event list reused.
    EventList list;
    auto emit = [](const pb::Event&, std::string&&) { return absl::OkStatus(); };
    uint64_t offset = 0;
    for (uint64_t i = 0; i < n; ++i) {
      if (!DecideAndFold(&s, config, limits, cmds[i], ++offset, &list, emit).ok())
        return state.SkipWithError("decide and fold failed");
      if (held && list.size() == 3 && list[2].draw_resolved().outcome() == pb::OUTCOME_WON) {
        confirm.set_time_ms(cmds[i].time_ms());
        confirm.mutable_confirm_entry()->set_user_id(cmds[i].request_entry().user_id());
        confirm.mutable_confirm_entry()->set_pass_id(absl::StrFormat("bench:%d", i + 1));
        if (!DecideAndFold(&s, config, limits, confirm, ++offset, &list, emit).ok() ||
            !list[0].has_entry_confirmed())
          return state.SkipWithError("confirmation failed");
        ++confirmed;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["entries_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["confirmed"] = static_cast<double>(confirmed / state.iterations());
}
void BM_DecideFoldInMemory(benchmark::State& state) { DecideFold(state, false); }
void BM_DecideFoldHeldAndConfirmed(benchmark::State& state) { DecideFold(state, true); }
BENCHMARK(BM_DecideFoldHeldAndConfirmed)
    ->Arg(500)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// decide + fold of 1,000,000 entries into a campaign of 8 items, each entry
// asking for 1..4 units of one of them (at entry, first come first served;
// stock 5% of the units asked), beside BM_DecideFoldInMemory's single item.
void BM_DecideFoldEightItems(benchmark::State& state) {
  EngineConfig config{"bench-secret-0123456789"};
  Limits limits;
  const uint64_t n = 1'000'000;
  std::vector<pb::Command> cmds;
  cmds.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    pb::Command c = EntryCmd(i);
    c.mutable_request_entry()->set_item_id(absl::StrFormat("slot-%d", i % 8));
    c.mutable_request_entry()->set_quantity(static_cast<uint32_t>(1 + (i / 8) % 4));
    cmds.push_back(std::move(c));
  }
  std::unique_ptr<EngineState> held_state;
  for (auto _ : state) {
    state.PauseTiming();
    held_state = std::make_unique<EngineState>();
    EngineState& s = *held_state;
    EventList list;
    auto emit = [](const pb::Event&, std::string&&) { return absl::OkStatus(); };
    pb::Command create = CreateCmd(0, 500);
    create.mutable_create_campaign()->set_per_user_max(4);
    for (int k = 0; k < 8; ++k) {
      pb::Item* item = create.mutable_create_campaign()->add_items();
      item->set_id(absl::StrFormat("slot-%d", k));
      item->set_label(absl::StrFormat("14:%02d", k * 5));
      item->set_stock(n * 5 / 2 / 100 / 8);  // 5% of the ~2.5 units asked on average
    }
    (void)DecideAndFold(&s, config, limits, create, 0, &list, emit);
    state.ResumeTiming();
    for (uint64_t i = 0; i < n; ++i) {
      if (!DecideAndFold(&s, config, limits, cmds[i], i + 1, &list, emit).ok())
        return state.SkipWithError("decide and fold failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["entries_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecideFoldEightItems)->Unit(benchmark::kMillisecond)->Iterations(3);

// Closing a DRAW_AT_CLOSE campaign of 1,000,000 entries: the one command that
// draws them all (a draw value each, the sort, one DrawResolved each) and
// roots them in a Merkle tree, decided and folded. The entries are made
// untimed.
void BM_CloseAtClose(benchmark::State& state) {
  EngineConfig config{"bench-secret-0123456789"};
  Limits limits;
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  EventList list;
  auto emit = [](const pb::Event&, std::string&&) { return absl::OkStatus(); };
  std::unique_ptr<EngineState> held_state;
  for (auto _ : state) {
    state.PauseTiming();
    held_state = std::make_unique<EngineState>();
    EngineState& s = *held_state;
    pb::Command create = CreateCmd(n / 100, 10000);
    create.mutable_create_campaign()->set_hold_s(600);
    create.mutable_create_campaign()->set_draw(pb::DRAW_AT_CLOSE);
    create.mutable_create_campaign()->set_entropy_source("drand quicknet round 1234567");
    (void)DecideAndFold(&s, config, limits, create, 0, &list, emit);
    for (uint64_t i = 0; i < n; ++i)
      (void)DecideAndFold(&s, config, limits, EntryCmd(i), i + 1, &list, emit);
    pb::Command close;
    close.set_campaign_id("bench");
    close.set_time_ms(kT0 + n);
    close.mutable_close_campaign()->set_entropy_value("a1b2c3d4e5f6");
    state.ResumeTiming();
    if (!DecideAndFold(&s, config, limits, close, n + 1, &list, emit).ok() ||
        static_cast<uint64_t>(list.size()) != n + 1)
      return state.SkipWithError("the close did not draw every entry");
  }
  state.counters["entries"] = static_cast<double>(n);
}
BENCHMARK(BM_CloseAtClose)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(2);

BENCHMARK(BM_DecideFoldInMemory)
    ->Arg(500)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// Durable: commands appended to the embedded log (batches of 1024), the
// engine deciding, appending to the ledger and committing to RocksDB.
void BM_DurableEntries(benchmark::State& state) {
  const uint64_t n = 500'000;
  std::vector<std::string> bytes;
  for (uint64_t i = 0; i < n; ++i) bytes.push_back(EntryCmd(i).SerializeAsString());
  for (auto _ : state) {
    state.PauseTiming();
    testing::TempDir dir;
    NodeOptions o;
    o.data_dir = dir.path();
    o.config.seed_secret = "bench-secret-0123456789";
    auto node = Node::Open(o);
    if (!node.ok()) return state.SkipWithError("open failed");
    (void)(*node)->Submit(CreateCmd(n / 20, 500));
    state.ResumeTiming();
    (*node)->engine().Start();
    EventLog* log = (*node)->log().commands();
    for (uint64_t i = 0; i < n; i += 1024) {
      std::vector<LogRecord> batch;
      for (uint64_t j = i; j < std::min(n, i + 1024); ++j) batch.push_back({0, "bench", bytes[j]});
      if (!log->Append(0, std::move(batch)).ok()) return state.SkipWithError("append failed");
    }
    if (!(*node)->engine().WaitForCommands(0, n + 1, absl::Minutes(5)).ok())
      return state.SkipWithError("engine failed");
    (*node)->engine().Stop();
    state.PauseTiming();
    node->reset();
    state.ResumeTiming();
  }
  state.counters["entries_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DurableEntries)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Group commit: 1, 16 and 256 concurrent appenders of one 100-byte record.
std::unique_ptr<EmbeddedLogDb> g_log;
testing::TempDir* g_dir = nullptr;
void BM_LogAppend(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_dir = new testing::TempDir();
    g_log = std::move(*EmbeddedLogDb::Open(g_dir->path(), 1));
  }
  // Threads wait here until thread 0 has set up (Google Benchmark barrier).
  for (auto _ : state) {
    auto off = g_log->commands()->Append(0, {LogRecord{0, "bench", std::string(100, 'x')}});
    if (!off.ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    g_log.reset();
    delete g_dir;
  }
}
BENCHMARK(BM_LogAppend)->Threads(1)->Threads(16)->Threads(256)->UseRealTime()->MinTime(2.0);

// Bytes of heap per entry held in engine state.
void BM_MemoryPerEntry(benchmark::State& state) {
  EngineConfig config{"bench-secret-0123456789"};
  Limits limits;
  const uint64_t n = 1'000'000;
  for (auto _ : state) {
    malloc_trim(0);
    // Heap in use plus mmapped blocks (big tables may be either).
    size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
    auto s = std::make_unique<EngineState>();
    EventList out;
    (void)Decide(*s, config, limits, CreateCmd(n / 20, 500), 0, &out);
    out[0].set_sequence(1);
    (void)Fold(s.get(), config, out[0], EncodeDeterministic(out[0]));
    for (uint64_t i = 0; i < n; ++i) {
      out.Clear();
      (void)Decide(*s, config, limits, EntryCmd(i), i + 1, &out);
      for (auto& e : out) {
        e.set_sequence(s->next_sequence);
        (void)Fold(s.get(), config, e, EncodeDeterministic(e));
      }
    }
    for (auto& [id, c] : s->campaigns) c->dirty_positions.clear();  // flushed by a commit
    out.Clear();
    size_t after = mallinfo2().uordblks + mallinfo2().hblkhd;
    state.counters["bytes_per_entry"] =
        static_cast<double>(after - before) / static_cast<double>(n);
  }
}
BENCHMARK(BM_MemoryPerEntry)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace tl

BENCHMARK_MAIN();
