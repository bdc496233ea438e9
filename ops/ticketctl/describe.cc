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
          "max_entries=%d nonce=%s commitment=%s",
          c.stock(), c.win_bps(), c.admission_rate_per_s(), pb::Queueing_Name(c.queueing()),
          c.opens_at_ms(), c.max_entries(), ToHex(std::string_view(c.seed_nonce())),
          ToHex(std::string_view(e.campaign_created().seed_commitment())));
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
    case pb::Event::kDrawResolved:
      body =
          absl::StrFormat("DrawResolved position=%d user=%s outcome=%s value=%016x stock_left=%d",
                          e.draw_resolved().position(), e.draw_resolved().user_id(),
                          pb::Outcome_Name(e.draw_resolved().outcome()),
                          e.draw_resolved().draw_value(), e.draw_resolved().stock_left());
      break;
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
      body = absl::StrFormat("CampaignClosed entries=%d", e.campaign_closed().entries());
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
