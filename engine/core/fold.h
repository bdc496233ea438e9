// fold(state, event) -> state. Applies one ledger event and checks the
// engine's invariants on the way (stock never negative; wins - cancellations
// <= initial stock + restocks; positions gapless from 1; one entry per user;
// the serving counter never passes the last position). A violated invariant
// is returned as an Internal error: it is a bug (or a forged ledger) found,
// and the caller must stop.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "engine/core/state.h"
#include "ticketledger/v1/events.pb.h"

namespace tl {

// Folds `event` whose encoded bytes are `encoded` (the digest is chained over
// the bytes exactly as they are in the ledger). The event's sequence must be
// state->next_sequence.
absl::Status Fold(EngineState* state, const EngineConfig& config, const pb::Event& event,
                  std::string_view encoded);

// The ledger digest chain Fold keeps (digest version 2, LOG_FORMAT.md): one
// SHA-256 per command answer, over the previous digest and each event's
// length (u32, little-endian) and bytes:
//   digest_k = SHA-256(digest_{k-1} | len_1 | value_1 | ... | len_m | value_m)
// An answer is the first event (command_events = m, 0 read as 1) and the
// m - 1 events after it. `digest` moves when an answer is whole; `answer`
// holds the hash of one part-way. Readers that do not fold (the audit) chain
// the same way to compare.
void ChainDigest(Hash* digest, DigestAnswer* answer, uint32_t command_events,
                 std::string_view encoded);

// Checks every invariant of one campaign from scratch (slow; for tests and
// audits).
absl::Status CheckInvariants(const CampaignState& c);

// The SHA-256 over the partitions' digests in order: one value that names the
// whole ledger's fold. For one partition it is still hashed, so the value does
// not depend on how it is printed.
Hash CombinedDigest(const std::vector<Hash>& partition_digests);

}  // namespace tl
