// The draw: the one place where randomness enters ticketledger, and it is not
// random at all. Every value is an HMAC-SHA256 of the campaign's secret seed
// over the entry, so anyone holding the revealed seed re-derives it.
//
//   draw value v  = first 8 bytes, big-endian, of
//                   HMAC-SHA256(seed, "ticketledger/draw/v1|" campaign "|" position "|" user)
//   prequeue key  = HMAC-SHA256(seed, "ticketledger/prequeue/v1|" campaign "|" user)
//   threshold     = floor(win_bps * 2^64 / 10000)   (128-bit integer arithmetic)
//   under(v)      = v < threshold
//
// position is written in decimal ASCII. Campaign ids cannot contain '|', and
// the user id comes last, so the message is unambiguous. A shell check:
//   printf 'ticketledger/draw/v1|c1|42|alice' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:<seed hex>
//
// Per-campaign seeds are derived from the engine's secret and the nonce the
// create command carries (CreateCampaign.seed_nonce), so the engine's output
// is a pure function of its log and its config, and the same secret and
// campaign id in two deployments give unrelated seeds:
//   seed = HMAC-SHA256(secret, "ticketledger/seed/v2|" campaign "|" hex(nonce))
// and, for campaigns created without a nonce (older ledgers),
//   seed = HMAC-SHA256(secret, "ticketledger/seed/v1|" campaign)
// CampaignCreated publishes SHA-256(seed); SeedRevealed publishes the seed.
//
// Draw at close (CreateCampaign.draw = DRAW_AT_CLOSE): entries are only
// collected while the campaign is open; CloseCampaign draws them all with
//   key           = HMAC-SHA256(seed, "ticketledger/entropy/v1|" entropy_value)
//                   when the campaign committed to an entropy source
//                   (CampaignCreated.config.entropy_source), else the seed
//   draw value v  = first 8 bytes, big-endian, of
//                   HMAC-SHA256(key, "ticketledger/draw/v1|" campaign "|" position "|" user)
//   eligible      = under(v)  (win_bps 10000: everyone)
// The eligible entries sorted by (v, position): the first `stock left at
// close` win, the others form the waitlist in that order (rank 1, 2, ...);
// the entries that are not eligible lose. Exactly min(stock, eligible) win,
// and arrival order buys nothing. entropy_value is the value the committed
// source published, as bytes; until it exists nobody, the operator included,
// can compute an outcome. CampaignClosed records it.
//
// Waitlist roll-forward: when a won unit comes back (given back, hold
// expired, or restocked) after an at-close draw, the head of the waitlist is
// promoted (EntryPromoted) and holds it, one unit per promotion.
#pragma once

#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/hash.h"

namespace tl {

using Seed = std::array<uint8_t, 32>;

// `nonce` raw bytes (lowercase hex in the message); empty: the v1 rule.
Seed DeriveSeed(std::string_view secret, std::string_view campaign_id, std::string_view nonce = {});
Hash SeedCommitment(const Seed& seed);
// The at-close draw key: HMAC-SHA256(seed, "ticketledger/entropy/v1|" value),
// or the seed itself when `committed` is false (no entropy source).
Seed AtCloseKey(const Seed& seed, bool committed, std::string_view entropy_value);

// floor(win_bps * 2^64 / 10000); 2^64 itself for win_bps = 10000.
unsigned __int128 WinThreshold(uint32_t win_bps);
inline bool UnderThreshold(uint64_t value, uint32_t win_bps) {
  return static_cast<unsigned __int128>(value) < WinThreshold(win_bps);
}

// A keyed HMAC-SHA256 with the pads precomputed: one Drawer per campaign
// makes a draw cost two SHA-256 finalisations instead of four compressions.
// Immutable after construction; safe to share between threads.
class Drawer {
 public:
  Drawer() = default;
  explicit Drawer(const Seed& seed);

  uint64_t DrawValue(std::string_view campaign_id, uint64_t position,
                     std::string_view user_id) const;
  Hash PrequeueKey(std::string_view campaign_id, std::string_view user_id) const;
  // HMAC-SHA256(seed, message).
  Hash Mac(std::string_view message) const;

 private:
  SHA256_CTX inner_{};
  SHA256_CTX outer_{};
};

}  // namespace tl
