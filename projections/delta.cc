#include "projections/delta.h"

#include "engine/core/names.h"

namespace tl::proj {

std::map<std::string, CampaignDelta> Summarize(const std::vector<pb::Event>& events) {
  std::map<std::string, CampaignDelta> out;
  for (const pb::Event& e : events) {
    CampaignDelta& d = out[e.campaign_id()];
    d.id = e.campaign_id();
    d.last_sequence = e.sequence();
    // The row of a position: entered in this batch, or changed from earlier.
    auto row = [&](uint64_t position, const std::string& user) -> EntryRow& {
      auto it = d.entered.find(position);
      if (it != d.entered.end()) return it->second;
      EntryRow& r = d.changed[position];
      r.position = position;
      r.user = user;
      return r;
    };
    // An event that changes a position's status.
    auto decide = [&](EntryRow& x, const std::string& outcome) {
      x.outcome = outcome;
      x.decided_at_ms = e.time_ms();
      x.decided_sequence = e.sequence();
    };
    switch (e.body_case()) {
      case pb::Event::kCampaignCreated:
        d.created = e.campaign_created();
        d.created_at_ms = e.time_ms();
        d.stock_left = e.campaign_created().config().stock();
        d.closed = false;
        d.paused = false;
        break;
      case pb::Event::kEntryPrequeued:
        d.prequeued.push_back(e.entry_prequeued().user_id());
        d.prequeued_delta++;
        break;
      case pb::Event::kQueueEntered: {
        const auto& q = e.queue_entered();
        EntryRow& r = d.entered[q.position()];
        r.position = q.position();
        r.user = q.user_id();
        r.entered_sequence = e.sequence();
        r.entered_at_ms = e.time_ms();
        d.entries = q.position();
        if (!q.prequeue_key().empty()) d.prequeued_delta--;
        break;
      }
      case pb::Event::kEntryRejected:
        if (!e.entry_rejected().user_id().empty()) {
          d.rejections.emplace_back(e.entry_rejected().user_id(),
                                    RejectReasonName(e.entry_rejected().reason()));
          d.rejected++;
        }
        break;
      case pb::Event::kEntryAdmitted:
        d.serving = e.entry_admitted().position();
        break;
      case pb::Event::kDrawResolved: {
        const auto& r = e.draw_resolved();
        EntryRow& x = row(r.position(), r.user_id());
        decide(x, OutcomeName(r.outcome()));
        x.drawn = true;
        x.draw_value = r.draw_value();
        if (r.hold_until_ms() != 0) x.hold_until_ms = r.hold_until_ms();
        if (r.waitlist_rank() != 0) x.waitlist_rank = r.waitlist_rank();
        d.stock_left = r.stock_left();
        // Draws come in position order: at an instant draw right after the
        // position's admission, at an at-close draw (no admissions) all at
        // the close, leaving the serving counter at the last position.
        d.serving = r.position();
        if (r.outcome() == pb::OUTCOME_WON) d.won++;
        if (r.outcome() == pb::OUTCOME_LOST) d.lost++;
        if (r.outcome() == pb::OUTCOME_SOLD_OUT) d.sold_out++;
        if (r.outcome() == pb::OUTCOME_WAITLISTED) d.waitlisted++;
        break;
      }
      case pb::Event::kStockChanged: {
        const auto& s = e.stock_changed();
        d.stock.push_back(
            {e.sequence(), s.delta(), StockReasonName(s.reason()), s.stock_left(), e.time_ms()});
        d.stock_left = s.stock_left();
        if (s.reason() == pb::STOCK_RESTOCK) d.restocked += s.delta();
        break;
      }
      case pb::Event::kEntryCancelled: {
        EntryRow& x = row(e.entry_cancelled().position(), e.entry_cancelled().user_id());
        decide(x, kCancelled);
        d.cancelled++;
        break;
      }
      case pb::Event::kEntryConfirmed: {
        const auto& c = e.entry_confirmed();
        EntryRow& x = row(c.position(), c.user_id());
        decide(x, kConfirmed);
        x.confirmed_at_ms = e.time_ms();
        x.pass_id = c.pass_id();
        d.confirmed++;
        break;
      }
      case pb::Event::kHoldExpired: {
        const auto& h = e.hold_expired();
        EntryRow& x = row(h.position(), h.user_id());
        decide(x, kExpired);
        x.hold_until_ms = h.hold_until_ms();
        d.expired++;
        break;
      }
      case pb::Event::kEntryPromoted: {
        const auto& pr = e.entry_promoted();
        EntryRow& x = row(pr.position(), pr.user_id());
        decide(x, kWon);
        x.hold_until_ms = pr.hold_until_ms();
        x.waitlist_rank = pr.waitlist_rank();
        x.promoted_at_ms = e.time_ms();
        d.stock_left = pr.stock_left();
        d.won++;
        d.promoted++;
        break;
      }
      case pb::Event::kCampaignClosed: {
        const auto& c = e.campaign_closed();
        d.closed = true;
        if (!c.merkle_root().empty()) {
          d.merkle_root = c.merkle_root();
          d.merkle_leaves = c.merkle_leaves();
        }
        if (!c.entropy_value().empty()) d.entropy_value = c.entropy_value();
        break;
      }
      case pb::Event::kSeedRevealed:
        d.seed = e.seed_revealed().seed();
        break;
      case pb::Event::kAdmissionPaused:
        d.paused = true;
        break;
      case pb::Event::kAdmissionResumed:
        d.paused = false;
        break;
      case pb::Event::kItemChosen:  // items: issue 15, projected/audited in their branches
      case pb::Event::kChoiceExpired:
      case pb::Event::BODY_NOT_SET:
        break;
    }
  }
  return out;
}

}  // namespace tl::proj
