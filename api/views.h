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
// An entry as the fold holds it.
EntryView EntryViewOf(const CampaignState& c, std::string_view user);
// The one shape of an entry, from the fold or a read model: as JSON text
// (what the live channel sends) and as a JSON value (what handlers extend).
std::string EntryJsonText(std::string_view campaign, std::string_view user, const EntryView& v);
nlohmann::json EntryJson(std::string_view campaign, std::string_view user, const EntryView& v);
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
