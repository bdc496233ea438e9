// In-memory decide + fold, no I/O: the engine's logic alone, for unit and
// property tests. Integration tests use the real embedded log (Node).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/core/decide.h"
#include "engine/core/fold.h"
#include "engine/core/step.h"

namespace tl::testing {

inline constexpr uint64_t kT0 = 1'767'225'600'000;  // 2026-01-01, unix ms

class Harness {
 public:
  Harness() { config.seed_secret = "test-seed-secret-0123456789"; }

  // Decides and folds one command through the production step
  // (DecideAndFold); returns the events it caused, as the ledger holds them.
  std::vector<pb::Event> Run(pb::Command cmd) {
    EventList decided;
    commands.push_back(cmd);
    std::vector<pb::Event> out;
    absl::Status st = DecideAndFold(&state, config, limits, cmd, commands.size() - 1, &decided,
                                    [&](const pb::Event& e, std::string&& bytes) {
                                      encoded.push_back(std::move(bytes));
                                      events.push_back(e);
                                      out.push_back(e);
                                      return absl::OkStatus();
                                    });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }

  std::vector<pb::Event> Create(const std::string& id, uint64_t stock, uint32_t win_bps,
                                uint32_t rate = 0, pb::Queueing q = pb::QUEUEING_FIFO,
                                uint64_t opens_at = 0, uint64_t max_entries = 0, uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    auto* cc = c.mutable_create_campaign();
    cc->set_stock(stock);
    cc->set_win_bps(win_bps);
    cc->set_admission_rate_per_s(rate);
    cc->set_queueing(q);
    cc->set_opens_at_ms(opens_at);
    cc->set_max_entries(max_entries);
    return Run(c);
  }
  std::vector<pb::Event> Enter(const std::string& id, const std::string& user, uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    c.mutable_request_entry()->set_user_id(user);
    return Run(c);
  }
  std::vector<pb::Event> Cancel(const std::string& id, const std::string& user, uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    c.mutable_cancel_entry()->set_user_id(user);
    return Run(c);
  }
  std::vector<pb::Event> Tick(const std::string& id, uint64_t t) {
    pb::Command c = Cmd(id, t);
    c.mutable_tick();
    return Run(c);
  }
  std::vector<pb::Event> Simple(const std::string& id, pb::Command::BodyCase which,
                                uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    switch (which) {
      case pb::Command::kCloseCampaign:
        c.mutable_close_campaign();
        break;
      case pb::Command::kRevealSeed:
        c.mutable_reveal_seed();
        break;
      case pb::Command::kPauseAdmission:
        c.mutable_pause_admission();
        break;
      case pb::Command::kResumeAdmission:
        c.mutable_resume_admission();
        break;
      default:
        ADD_FAILURE() << "not a simple command";
        break;
    }
    return Run(c);
  }
  std::vector<pb::Event> Restock(const std::string& id, uint64_t units, uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    c.mutable_restock()->set_units(units);
    return Run(c);
  }

  // A campaign with holds and a draw mode (issue 14's options).
  std::vector<pb::Event> CreateHeld(const std::string& id, uint64_t stock, uint32_t win_bps,
                                    uint32_t hold_s, pb::Draw draw = pb::DRAW_INSTANT,
                                    const std::string& entropy_source = "", uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    auto* cc = c.mutable_create_campaign();
    cc->set_stock(stock);
    cc->set_win_bps(win_bps);
    cc->set_hold_s(hold_s);
    cc->set_draw(draw);
    cc->set_entropy_source(entropy_source);
    return Run(c);
  }
  std::vector<pb::Event> Confirm(const std::string& id, const std::string& user,
                                 const std::string& pass_id, uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    c.mutable_confirm_entry()->set_user_id(user);
    c.mutable_confirm_entry()->set_pass_id(pass_id);
    return Run(c);
  }
  std::vector<pb::Event> Close(const std::string& id, const std::string& entropy_value = "",
                               uint64_t t = kT0) {
    pb::Command c = Cmd(id, t);
    c.mutable_close_campaign()->set_entropy_value(entropy_value);
    return Run(c);
  }

  static pb::Command Cmd(const std::string& id, uint64_t t) {
    pb::Command c;
    c.set_campaign_id(id);
    c.set_time_ms(t);
    return c;
  }

  const CampaignState& C(const std::string& id) const {
    const CampaignState* c = state.Find(id);
    EXPECT_NE(c, nullptr) << id;
    return *c;
  }

  EngineConfig config;
  Limits limits;
  EngineState state;
  std::vector<pb::Command> commands;
  std::vector<pb::Event> events;
  std::vector<std::string> encoded;
};

inline int Count(const std::vector<pb::Event>& es, pb::Event::BodyCase which) {
  int n = 0;
  for (const auto& e : es) n += e.body_case() == which;
  return n;
}

inline pb::RejectReason RejectOf(const std::vector<pb::Event>& es) {
  for (const auto& e : es)
    if (e.has_entry_rejected()) return e.entry_rejected().reason();
  return pb::REJECT_REASON_UNSPECIFIED;
}

}  // namespace tl::testing
