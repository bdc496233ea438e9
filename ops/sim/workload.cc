#include "ops/sim/workload.h"

#include "engine/core/names.h"

namespace tl::sim {
namespace {

const std::string& ItemOf(const CampaignState& c, size_t k) {
  return c.snap.config().items(static_cast<int>(k % c.items())).id();
}

pb::Command Cmd(const std::string& id, uint64_t t) {
  pb::Command c;
  c.set_campaign_id(id);
  c.set_time_ms(t);
  return c;
}

// An entry, or on admission the admitted user's choice.
void RandomEntry(std::mt19937_64& rng, const CampaignState* cs, const std::string& user,
                 pb::Command& c) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  c.mutable_request_entry()->set_user_id(user);
  if (cs == nullptr || cs->items() == 0 || pick(6) == 0) return;
  if (!cs->on_admission()) {  // at entry: an item and a quantity, sometimes a bad one
    c.mutable_request_entry()->set_item_id(pick(12) == 0 ? "nope" : ItemOf(*cs, pick(8)));
    c.mutable_request_entry()->set_quantity(static_cast<uint32_t>(pick(4)));
  } else if (auto it = cs->position_of.find(user);
             it != cs->position_of.end() && !(it->second & kPrequeuedBit) &&
             cs->status[it->second - 1] == EntryStatus::kAdmitted) {
    // On admission: the admitted choose (a choice command instead).
    c.clear_request_entry();
    c.mutable_choose_item()->set_user_id(user);
    c.mutable_choose_item()->set_item_id(ItemOf(*cs, pick(8)));
    c.mutable_choose_item()->set_quantity(static_cast<uint32_t>(pick(4)));
  }
}

}  // namespace

pb::Command RandomCreate(std::mt19937_64& rng, const std::string& id, uint64_t now) {
  static constexpr uint32_t kBps[] = {0, 1, 500, 5000, 9999, 10000};
  static constexpr uint32_t kRates[] = {0, 0, 1, 5, 20};
  static constexpr uint32_t kHolds[] = {0, 0, 1, 3};  // seconds; a stream spans ~10 s
  const bool random = rng() % 3 == 0;
  pb::Command create = Cmd(id, now);
  auto* cc = create.mutable_create_campaign();
  cc->set_stock(rng() % 6);
  cc->set_win_bps(kBps[rng() % 6]);
  cc->set_queueing(random ? pb::QUEUEING_RANDOM : pb::QUEUEING_FIFO);
  cc->set_opens_at_ms(random ? now + rng() % 4000 : 0);
  cc->set_max_entries(rng() % 4 == 0 ? 10 : 0);
  cc->set_hold_s(kHolds[rng() % 4]);
  if (rng() % 3 == 0) {  // 1..3 items of 0..4 units, per-user maxima up to 3
    cc->set_stock(0);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      pb::Item* item = cc->add_items();
      item->set_id("i" + std::to_string(k));
      item->set_stock(rng() % 5);
      item->set_per_user_max(static_cast<uint32_t>(rng() % 3));
    }
    cc->set_per_user_max(1 + static_cast<uint32_t>(rng() % 3));
    cc->set_choose(rng() % 2 == 0 ? pb::CHOOSE_AT_ENTRY : pb::CHOOSE_ON_ADMISSION);
    if (cc->choose() == pb::CHOOSE_ON_ADMISSION) cc->set_choose_s(1 + rng() % 2);
  }
  if (rng() % 3 == 0 && cc->choose() != pb::CHOOSE_ON_ADMISSION) {
    cc->set_draw(pb::DRAW_AT_CLOSE);
    if (rng() % 2 == 0) cc->set_entropy_source("drand round " + std::to_string(rng() % 100));
  } else {
    cc->set_admission_rate_per_s(kRates[rng() % 5]);
  }
  return create;
}

pb::Command RandomCommand(std::mt19937_64& rng, uint64_t& now,
                          const std::vector<std::string>& campaigns, const EngineState* state) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  now += pick(400);
  const std::string& id = campaigns[pick(campaigns.size())];
  pb::Command c = Cmd(pick(50) == 0 ? "unknown" : id, now);
  std::string user = "u" + std::to_string(pick(24));
  if (pick(40) == 0) user = "bad\nuser";
  const CampaignState* cs = state == nullptr ? nullptr : state->Find(id);
  int r = static_cast<int>(pick(110));
  if (r >= 100) {  // a confirmation, naming the right pass nine times in ten
    uint64_t pos = 1;
    if (cs != nullptr) {
      if (auto it = cs->position_of.find(user); it != cs->position_of.end()) pos = it->second;
    }
    c.mutable_confirm_entry()->set_user_id(user);
    c.mutable_confirm_entry()->set_pass_id(PassId(id, pick(10) == 0 ? pos + 1 : pos));
  } else if (r < 50) {
    RandomEntry(rng, cs, user, c);
  } else if (r < 75) {
    c.mutable_tick();
  } else if (r < 83) {
    c.mutable_cancel_entry()->set_user_id(user);
  } else if (r < 87) {
    c.mutable_restock()->set_units(pick(3));
    if (cs != nullptr && cs->items() > 0) c.mutable_restock()->set_item_id(ItemOf(*cs, pick(8)));
  } else if (r < 91) {
    c.mutable_pause_admission();
  } else if (r < 95) {
    c.mutable_resume_admission();
  } else if (r < 98) {
    // The committed entropy value, mostly; sometimes none or a stray one.
    const bool committed = cs != nullptr && !cs->snap.config().entropy_source().empty();
    if (committed ? pick(5) != 0 : pick(10) == 0)
      c.mutable_close_campaign()->set_entropy_value("round-" + std::to_string(pick(1000)));
    else
      c.mutable_close_campaign();
  } else {
    c.mutable_reveal_seed();
  }
  return c;
}

}  // namespace tl::sim
