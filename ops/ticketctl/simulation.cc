#include "ops/ticketctl/simulation.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/fold.h"
#include "engine/core/names.h"
#include "ops/ticketctl/progress.h"

namespace tl {
namespace {

// The drop as a list of commands; a pure function of the options.
std::vector<std::string> BuildCommands(const SimulateOptions& o) {
  std::vector<std::string> out;
  out.reserve(o.users + 16);
  pb::Command cmd;
  auto add = [&](uint64_t t) {
    cmd.set_time_ms(t);
    cmd.set_campaign_id(o.campaign);
    out.push_back(cmd.SerializeAsString());
    cmd.Clear();
  };
  pb::Queueing queueing = pb::QUEUEING_FIFO;
  (void)ParseQueueing(o.queueing, &queueing);  // checked by RunSimulate
  const bool random = queueing == pb::QUEUEING_RANDOM;
  const uint64_t t0 = o.start_ms;
  const uint64_t opens_at = random ? t0 + o.arrival_ms / 2 : 0;
  auto* create = cmd.mutable_create_campaign();
  create->set_title("simulated drop");
  create->set_stock(o.stock);
  create->set_win_bps(o.win_bps);
  create->set_admission_rate_per_s(o.rate);
  create->set_queueing(queueing);
  create->set_opens_at_ms(opens_at);
  create->set_max_entries(o.users);
  create->set_hold_s(o.hold_s);
  pb::Draw draw = pb::DRAW_INSTANT;
  (void)ParseDraw(o.draw, &draw);  // checked by RunSimulate
  const bool at_close = draw == pb::DRAW_AT_CLOSE;
  if (at_close) {
    create->set_draw(draw);
    if (!o.entropy.empty()) create->set_entropy_source("the simulation's --entropy value");
  }
  add(t0);
  // The shop's confirmations, in time order: every confirm_every-th user at
  // hold_s / 2 after `from` (their entry or the close). Positions are arrival
  // order (FIFO, no rejections), so the pass id is known in advance; a user
  // who did not win is refused, as a real shop's stray confirmation would be.
  const uint64_t half_hold = uint64_t{o.hold_s} * 500;
  auto confirm = [&](uint64_t i, uint64_t at) {
    cmd.mutable_confirm_entry()->set_user_id(absl::StrFormat("user-%07d", i));
    cmd.mutable_confirm_entry()->set_pass_id(PassId(o.campaign, i));
    add(at);
  };
  const bool confirms = o.confirm_every > 0 && o.hold_s > 0 && !random;
  uint64_t next_confirm = o.confirm_every;  // instant: by entry time

  const bool ticks = o.rate > 0 || random || o.hold_s > 0;
  uint64_t next_tick = t0 + o.tick_ms;
  auto ticks_until = [&](uint64_t t) {
    while (ticks && next_tick <= t) {
      cmd.mutable_tick();
      add(next_tick);
      next_tick += o.tick_ms;
    }
  };
  auto confirms_until = [&](uint64_t t) {
    for (; confirms && !at_close && next_confirm <= o.users; next_confirm += o.confirm_every) {
      const uint64_t at = t0 + next_confirm * o.arrival_ms / o.users + half_hold;
      if (at > t) break;
      ticks_until(at);
      confirm(next_confirm, at);
    }
  };
  for (uint64_t i = 1; i <= o.users; ++i) {
    uint64_t t = t0 + i * o.arrival_ms / o.users;
    confirms_until(t);
    ticks_until(t);
    cmd.mutable_request_entry()->set_user_id(absl::StrFormat("user-%07d", i));
    add(t);
  }
  uint64_t drain_ms = o.rate > 0 ? (o.users * 1000 + o.rate - 1) / o.rate : 0;
  uint64_t end = t0 + std::max(o.arrival_ms, drain_ms) + 5 * o.tick_ms;
  confirms_until(end);
  ticks_until(end);
  cmd.mutable_close_campaign()->set_entropy_value(at_close ? o.entropy : "");
  add(end);
  // After the close: the at-close draw's confirmations, then time enough for
  // every hold (promotions' included, one round) to be confirmed or expire.
  if (confirms && at_close) {
    for (uint64_t i = o.confirm_every; i <= o.users; i += o.confirm_every) {
      const uint64_t at = end + half_hold;
      ticks_until(at);
      confirm(i, at);
    }
  }
  confirms_until(UINT64_MAX);
  if (o.hold_s > 0) ticks_until(end + 2 * uint64_t{o.hold_s} * 1000 + o.tick_ms);
  const uint64_t last = std::max(end, next_tick - o.tick_ms);
  cmd.mutable_reveal_seed();
  add(last);
  return out;
}

// The options a run cannot start with, in words; "" when they are fine.
std::string Invalid(const SimulateOptions& o) {
  if (o.users == 0 || o.batch == 0 || o.tick_ms == 0)
    return "--users, --batch and --tick-ms must be > 0";
  if (pb::Queueing q; !ParseQueueing(o.queueing, &q))
    return absl::StrCat("--queueing must be ", kFifo, " or ", kRandom, ", not '", o.queueing, "'");
  pb::Draw d;
  if (!ParseDraw(o.draw, &d))
    return absl::StrCat("--draw must be ", kInstant, " or ", kAtClose, ", not '", o.draw, "'");
  if (d == pb::DRAW_AT_CLOSE && o.rate > 0)
    return "--draw at_close admits nobody before the close: leave --rate at 0";
  if (d != pb::DRAW_AT_CLOSE && !o.entropy.empty()) return "--entropy needs --draw at_close";
  return "";
}

// Appends commands[from..] in batches of o.batch and waits until the engine
// has decided them all. Returns an exit code.
int Drive(Engine& engine, EventLog* log, int partition, const std::vector<std::string>& commands,
          uint64_t from, const SimulateOptions& o) {
  Progress progress("simulate", commands.size());
  auto decided = [&] {
    uint64_t end = 0;
    engine.WithState(partition,
                     [&](const EngineState&, uint64_t decided_end) { end = decided_end; });
    return end;
  };
  for (uint64_t at = from; at < commands.size();) {
    std::vector<LogRecord> batch;
    for (; at < commands.size() && batch.size() < o.batch; ++at) {
      batch.push_back(LogRecord{0, o.campaign, commands[at]});
    }
    absl::StatusOr<uint64_t> first = log->Append(partition, std::move(batch));
    if (!first.ok()) {
      std::fprintf(stderr, "simulate: append failed: %s\n", first.status().ToString().c_str());
      return 1;
    }
    if (o.print_acks) {
      std::printf("acked %llu\n", static_cast<unsigned long long>(at));
      std::fflush(stdout);
    }
    if (absl::Status st = engine.status(); !st.ok()) {
      std::fprintf(stderr, "simulate: engine stopped: %s\n", st.ToString().c_str());
      return 1;
    }
    progress.Update(decided());
  }
  for (;;) {
    absl::Status st = engine.WaitForCommands(partition, commands.size(), absl::Milliseconds(100));
    if (st.ok()) break;
    if (!absl::IsDeadlineExceeded(st)) {
      std::fprintf(stderr, "simulate: engine stopped: %s\n", st.ToString().c_str());
      return 1;
    }
    progress.Update(decided());
  }
  progress.Update(commands.size());
  return 0;
}

void PrintSummary(Engine& engine, const CampaignState& c, const SimulateOptions& o,
                  uint64_t commands, double secs) {
  const auto& s = c.snap;
  uint64_t drawn = s.serving();
  // Drawn under the threshold: won (promotions are not draws), sold out and,
  // at close, waitlisted.
  uint64_t under = s.won() - s.promoted() + s.sold_out() + s.waitlisted();
  std::vector<Hash> digests;
  for (int p = 0; p < engine.partitions(); ++p)
    digests.push_back(engine.partition(p).state().digest);
  std::printf("campaign %s: %llu users, stock %llu, win_bps %u, admission %u/s, %s\n",
              o.campaign.c_str(), static_cast<unsigned long long>(o.users),
              static_cast<unsigned long long>(o.stock), o.win_bps, o.rate, o.queueing.c_str());
  std::printf("  positions  %llu (drawn %llu, rejected %llu)\n",
              static_cast<unsigned long long>(s.last_position()),
              static_cast<unsigned long long>(drawn),
              static_cast<unsigned long long>(s.rejected()));
  std::printf("  %-10s %llu\n", kWon, static_cast<unsigned long long>(s.won()));
  std::printf("  %-10s %llu\n", kLost, static_cast<unsigned long long>(s.lost()));
  std::printf("  %-10s %llu\n", kSoldOut, static_cast<unsigned long long>(s.sold_out()));
  if (o.hold_s > 0 || c.at_close()) {
    std::printf("  %-10s %llu\n", kConfirmed, static_cast<unsigned long long>(s.confirmed()));
    std::printf("  %-10s %llu\n", kExpired, static_cast<unsigned long long>(s.expired()));
    std::printf("  %-10s %llu\n", kWaitlisted, static_cast<unsigned long long>(s.waitlisted()));
    std::printf("  %-10s %llu\n", "promoted", static_cast<unsigned long long>(s.promoted()));
  }
  std::printf("  stock_left %llu\n", static_cast<unsigned long long>(s.stock_left()));
  std::printf("  observed   %.4f%% of draws under the threshold (configured %.2f%%)\n",
              drawn ? 100.0 * static_cast<double>(under) / static_cast<double>(drawn) : 0.0,
              o.win_bps / 100.0);
  std::printf("  revealed   %s\n", s.revealed() ? "yes" : "no");
  std::printf("  digest     %s\n", ToHex(CombinedDigest(digests)).c_str());
  std::printf("  throughput %.0f entries/s (%llu commands in %.2f s, durable log + RocksDB)\n",
              static_cast<double>(o.users) / secs, static_cast<unsigned long long>(commands), secs);
}

}  // namespace

int RunSimulate(Node& node, const SimulateOptions& o) {
  if (std::string why = Invalid(o); !why.empty()) {
    std::fprintf(stderr, "simulate: %s\n", why.c_str());
    return 2;
  }
  const std::vector<std::string> commands = BuildCommands(o);
  const int partition = PartitionFor(o.campaign, node.options().partitions);
  EventLog* log = node.log().commands();
  absl::StatusOr<uint64_t> end = log->EndOffset(partition);
  if (!end.ok()) {
    std::fprintf(stderr, "simulate: %s\n", end.status().ToString().c_str());
    return 1;
  }
  if (*end > 0 && !o.resume) {
    std::fprintf(stderr,
                 "simulate: the data dir already holds %llu commands; pass --resume to continue "
                 "that run or use a fresh --data-dir\n",
                 static_cast<unsigned long long>(*end));
    return 2;
  }
  if (*end > commands.size()) {
    std::fprintf(stderr, "simulate: the log holds more commands than this drop has\n");
    return 2;
  }
  Engine& engine = node.engine();
  engine.Start();
  const auto started = std::chrono::steady_clock::now();
  const int rc = Drive(engine, log, partition, commands, *end, o);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  engine.Stop();
  if (rc != 0) return rc;
  const CampaignState* c = engine.partition(partition).state().Find(o.campaign);
  if (c == nullptr) {
    std::fprintf(stderr, "simulate: campaign %s was not created (see `ticketctl inspect`)\n",
                 o.campaign.c_str());
    return 1;
  }
  PrintSummary(engine, *c, o, commands.size() - *end, secs);
  return 0;
}

}  // namespace tl
