#include "ops/ticketctl/describe.h"

#include "absl/strings/str_format.h"
#include "engine/core/draw.h"
#include "engine/core/state.h"

namespace tl::ctl {

// One line per event, for people.
std::string Describe(const pb::Event& e) {
  std::string body;
  switch (e.body_case()) {
    case pb::Event::kCampaignCreated: {
      const auto& c = e.campaign_created().config();
      body = absl::StrFormat(
          "CampaignCreated stock=%d win_bps=%d rate=%d/s queueing=%s opens_at_ms=%d "
          "max_entries=%d nonce=%s commitment=%s hold_s=%d draw=%s entropy_source=\"%s\"",
          c.stock(), c.win_bps(), c.admission_rate_per_s(), pb::Queueing_Name(c.queueing()),
          c.opens_at_ms(), c.max_entries(), ToHex(std::string_view(c.seed_nonce())),
          ToHex(std::string_view(e.campaign_created().seed_commitment())), c.hold_s(),
          pb::Draw_Name(c.draw()), c.entropy_source());
      break;
    }
    case pb::Event::kQueueEntered:
      body = absl::StrFormat("QueueEntered user=%s position=%d", e.queue_entered().user_id(),
                             e.queue_entered().position());
      break;
    case pb::Event::kEntryPrequeued:
      body = absl::StrFormat("EntryPrequeued user=%s", e.entry_prequeued().user_id());
      break;
    case pb::Event::kEntryRejected:
      body = absl::StrFormat(
          "EntryRejected user=%s reason=%s detail=\"%s\"", e.entry_rejected().user_id(),
          pb::RejectReason_Name(e.entry_rejected().reason()), e.entry_rejected().detail());
      break;
    case pb::Event::kEntryAdmitted:
      body = absl::StrFormat("EntryAdmitted position=%d user=%s", e.entry_admitted().position(),
                             e.entry_admitted().user_id());
      break;
    case pb::Event::kDrawResolved: {
      const auto& d = e.draw_resolved();
      body = absl::StrFormat(
          "DrawResolved position=%d user=%s outcome=%s value=%016x stock_left=%d", d.position(),
          d.user_id(), pb::Outcome_Name(d.outcome()), d.draw_value(), d.stock_left());
      if (d.hold_until_ms() != 0) body += absl::StrFormat(" hold_until_ms=%d", d.hold_until_ms());
      if (d.waitlist_rank() != 0) body += absl::StrFormat(" waitlist_rank=%d", d.waitlist_rank());
      break;
    }
    case pb::Event::kEntryConfirmed:
      body = absl::StrFormat("EntryConfirmed user=%s position=%d pass=%s",
                             e.entry_confirmed().user_id(), e.entry_confirmed().position(),
                             e.entry_confirmed().pass_id());
      break;
    case pb::Event::kHoldExpired:
      body = absl::StrFormat("HoldExpired user=%s position=%d hold_until_ms=%d",
                             e.hold_expired().user_id(), e.hold_expired().position(),
                             e.hold_expired().hold_until_ms());
      break;
    case pb::Event::kEntryPromoted: {
      const auto& p = e.entry_promoted();
      body = absl::StrFormat(
          "EntryPromoted user=%s position=%d waitlist_rank=%d hold_until_ms=%d stock_left=%d",
          p.user_id(), p.position(), p.waitlist_rank(), p.hold_until_ms(), p.stock_left());
      break;
    }
    case pb::Event::kStockChanged:
      body = absl::StrFormat(
          "StockChanged delta=%+d reason=%s stock_left=%d", e.stock_changed().delta(),
          pb::StockReason_Name(e.stock_changed().reason()), e.stock_changed().stock_left());
      break;
    case pb::Event::kEntryCancelled:
      body = absl::StrFormat("EntryCancelled user=%s position=%d", e.entry_cancelled().user_id(),
                             e.entry_cancelled().position());
      break;
    case pb::Event::kCampaignClosed:
      body = absl::StrFormat("CampaignClosed entries=%d merkle_root=%s leaves=%d",
                             e.campaign_closed().entries(),
                             ToHex(std::string_view(e.campaign_closed().merkle_root())),
                             e.campaign_closed().merkle_leaves());
      if (!e.campaign_closed().entropy_value().empty())
        body += absl::StrFormat(" entropy_value=\"%s\"", e.campaign_closed().entropy_value());
      break;
    case pb::Event::kSeedRevealed:
      body = absl::StrFormat("SeedRevealed seed=%s",
                             ToHex(std::string_view(e.seed_revealed().seed())));
      break;
    case pb::Event::kAdmissionPaused:
      body = "AdmissionPaused";
      break;
    case pb::Event::kAdmissionResumed:
      body = "AdmissionResumed";
      break;
    case pb::Event::BODY_NOT_SET:
      body = "(unknown)";
      break;
  }
  return absl::StrFormat("#%-8d cmd@%-8d t=%d %s", e.sequence(), e.command_offset(), e.time_ms(),
                         body);
}

}  // namespace tl::ctl
