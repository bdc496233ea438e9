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
        for (const pb::Item& item : e.campaign_created().config().items()) {
          d.items[item.id()].stock_left = item.stock();
          // The campaign's stock is its items' sum (CreateCampaign.stock is 0).
          *d.stock_left += item.stock();
        }
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
        if (!q.item_id().empty()) {
          r.item_id = q.item_id();
          r.quantity = q.quantity() == 0 ? 1 : q.quantity();
        }
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
        if (r.choose_until_ms() != 0) x.choose_until_ms = r.choose_until_ms();
        if (!r.item_id().empty()) {
          x.item_id = r.item_id();
          x.quantity = r.quantity();
          ItemDelta& it = d.items[r.item_id()];
          it.stock_left = r.item_stock_left();
          if (r.outcome() == pb::OUTCOME_WON) it.taken += r.quantity();
          if (r.outcome() == pb::OUTCOME_WAITLISTED) it.waitlisted++;
        }
        if (r.outcome() == pb::OUTCOME_ADMITTED) d.admitted_choosing++;
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
        d.stock.push_back({e.sequence(), s.delta(), StockReasonName(s.reason()), s.stock_left(),
                           e.time_ms(), s.item_id(), s.item_stock_left()});
        d.stock_left = s.stock_left();
        if (s.reason() == pb::STOCK_RESTOCK) d.restocked += s.delta();
        if (!s.item_id().empty()) {
          ItemDelta& it = d.items[s.item_id()];
          it.stock_left = s.item_stock_left();
          (s.reason() == pb::STOCK_RESTOCK ? it.restocked : it.returned) += s.delta();
        }
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
        d.confirmed_positions.push_back(c.position());
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
        if (!pr.item_id().empty()) {
          x.item_id = pr.item_id();
          x.quantity = pr.quantity();
          ItemDelta& it = d.items[pr.item_id()];
          it.stock_left = pr.item_stock_left();
          it.taken += pr.quantity();
          it.promoted++;
        }
        break;
      }
      case pb::Event::kItemChosen: {
        const auto& c = e.item_chosen();
        EntryRow& x = row(c.position(), c.user_id());
        decide(x, kWon);
        x.item_id = c.item_id();
        x.quantity = c.quantity();
        if (c.hold_until_ms() != 0) x.hold_until_ms = c.hold_until_ms();
        ItemDelta& it = d.items[c.item_id()];
        it.stock_left = c.item_stock_left();
        it.taken += c.quantity();
        d.stock_left = c.stock_left();
        d.won++;  // as the engine counts a choice
        d.chosen++;
        d.admitted_choosing--;
        break;
      }
      case pb::Event::kChoiceExpired: {
        const auto& c = e.choice_expired();
        EntryRow& x = row(c.position(), c.user_id());
        decide(x, kChoiceExpired);
        x.choose_until_ms = c.choose_until_ms();
        d.choices_expired++;
        d.admitted_choosing--;
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
      case pb::Event::BODY_NOT_SET:
        break;
    }
  }
  return out;
}

}  // namespace tl::proj
