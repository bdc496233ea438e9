// The JSON shapes of the HTTP api, built in one place from the fold's state
// or from a read model's view: campaigns, entries, decisions, rejections.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

#include "api/read_model.h"
#include "engine/core/state.h"
#include "ticketledger/v1/events.pb.h"

namespace tl::api {

// One mapping from a rejection to an HTTP status and error code (the code
// is RejectCode, engine/core/names.h).
std::pair<int, const char*> RejectionHttp(pb::RejectReason r);

nlohmann::json CampaignJson(const CampaignState& c);
// An entry's item fields (issue 15), beside EntryView: the item and units
// asked for or chosen, an admitted user's choice deadline, and each item's
// units left (for the live channel). Empty for a campaign without items.
struct ItemFields {
  std::string item_id;  // "" none (yet)
  uint32_t quantity = 0;
  uint64_t choose_until_ms = 0;      // admitted (choose on_admission): the deadline
  std::vector<uint64_t> items_left;  // per item, in the campaign's order
};
ItemFields ItemFieldsOf(const CampaignState& c, std::string_view user);
// Adds "item_id", "quantity" and "choose_until_ms" from the fold to an entry
// JSON (one built from a read model that does not keep them).
void AddItemFields(const CampaignState& c, std::string_view user, nlohmann::json* entry);
// An entry as the fold holds it.
EntryView EntryViewOf(const CampaignState& c, std::string_view user);
// The one shape of an entry, from the fold or a read model: as JSON text
// (what the live channel sends) and as a JSON value (what handlers extend).
std::string EntryJsonText(std::string_view campaign, std::string_view user, const EntryView& v,
                          const ItemFields* f = nullptr);
nlohmann::json EntryJson(std::string_view campaign, std::string_view user, const EntryView& v,
                         const ItemFields* f = nullptr);
nlohmann::json EntryJson(const CampaignState& c, std::string_view user);
// Decided: the draw has spoken (any status but queued and pre-queued): what
// a `Prefer: wait` entry request waits for.
bool IsDecided(const nlohmann::json& entry);
bool IsDecided(const EntryView& v);
// Final: the entry will not change any more (won without a hold, confirmed,
// expired, lost, sold out, cancelled, rejected): where the live channel
// ends. A held win (hold_until_ms) and a waitlisted entry are not final.
bool IsFinal(const nlohmann::json& entry);
bool IsFinal(const EntryView& v);

// The most events an answer lists (an at-close close draws every entry).
inline constexpr size_t kAnswerEventsMax = 1000;

// The answer to a decided command about `user` (the entry's user: the
// caller, or the user a confirmation names): (status, body). `campaign`
// gives the current entry or campaign for the shapes that show them.
std::pair<int, nlohmann::json> DescribeDecision(const std::vector<pb::Event>& events,
                                                const std::string& user,
                                                const CampaignState* campaign, int ok_status);

}  // namespace tl::api
