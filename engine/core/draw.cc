#include "engine/core/draw.h"

#include <openssl/hmac.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/core/check.h"

namespace tl {
namespace {

void Put(SHA256_CTX* ctx, std::string_view s) { SHA256_Update(ctx, s.data(), s.size()); }

}  // namespace

Seed DeriveSeed(std::string_view secret, std::string_view campaign_id, std::string_view nonce) {
  std::string msg = nonce.empty() ? "ticketledger/seed/v1|" : "ticketledger/seed/v2|";
  msg.append(campaign_id);
  if (!nonce.empty()) msg.append("|").append(ToHex(nonce));
  Seed out;
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  return out;
}

Hash SeedCommitment(const Seed& seed) {
  return Sha256(std::string_view(reinterpret_cast<const char*>(seed.data()), seed.size()));
}

unsigned __int128 WinThreshold(uint32_t win_bps) {
  TL_CHECK_LE(win_bps, 10000u);  // decide refuses any other rate before it gets here
  return (static_cast<unsigned __int128>(win_bps) << 64) / 10000;
}

Drawer::Drawer(const Seed& seed) {
  // RFC 2104 with a 32-byte key (shorter than the 64-byte block).
  uint8_t ipad[64], opad[64];
  std::memset(ipad, 0x36, sizeof ipad);
  std::memset(opad, 0x5c, sizeof opad);
  for (size_t i = 0; i < seed.size(); ++i) {
    ipad[i] ^= seed[i];
    opad[i] ^= seed[i];
  }
  SHA256_Init(&inner_);
  SHA256_Update(&inner_, ipad, sizeof ipad);
  SHA256_Init(&outer_);
  SHA256_Update(&outer_, opad, sizeof opad);
}

Seed AtCloseKey(const Seed& seed, bool committed, std::string_view entropy_value) {
  if (!committed) return seed;
  const std::string msg = absl::StrCat(
      "ticketledger/entropy/v1|", absl::string_view(entropy_value.data(), entropy_value.size()));
  Seed key{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), seed.data(), static_cast<int>(seed.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), key.data(), &len);
  return key;
}

Hash Drawer::Mac(std::string_view message) const {
  SHA256_CTX ctx = inner_;
  Put(&ctx, message);
  Hash inner_hash;
  SHA256_Final(inner_hash.data(), &ctx);
  ctx = outer_;
  SHA256_Update(&ctx, inner_hash.data(), inner_hash.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

uint64_t Drawer::DrawValue(std::string_view campaign_id, uint64_t position,
                           std::string_view user_id) const {
  char digits[absl::numbers_internal::kFastToBufferSize];
  char* end = absl::numbers_internal::FastIntToBuffer(position, digits);
  SHA256_CTX ctx = inner_;
  Put(&ctx, "ticketledger/draw/v1|");
  Put(&ctx, campaign_id);
  Put(&ctx, "|");
  Put(&ctx, std::string_view(digits, static_cast<size_t>(end - digits)));
  Put(&ctx, "|");
  Put(&ctx, user_id);
  uint8_t inner_hash[32];
  SHA256_Final(inner_hash, &ctx);
  ctx = outer_;
  SHA256_Update(&ctx, inner_hash, sizeof inner_hash);
  uint8_t mac[32];
  SHA256_Final(mac, &ctx);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | mac[i];
  return v;
}

Hash Drawer::PrequeueKey(std::string_view campaign_id, std::string_view user_id) const {
  std::string msg = "ticketledger/prequeue/v1|";
  msg.append(campaign_id).append("|").append(user_id);
  return Mac(msg);
}

}  // namespace tl
