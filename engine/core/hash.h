// SHA-256 and hex: the one helper every layer uses to name bytes (digests,
// seeds, commitments) on the wire and in logs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tl {

using Hash = std::array<uint8_t, 32>;

Hash Sha256(std::string_view data);

// Lower-case hex, two digits per byte.
std::string ToHex(const uint8_t* data, size_t size);
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& a) {
  return ToHex(a.data(), N);
}
inline std::string ToHex(std::string_view bytes) {
  return ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
// Returns false on odd length or a non-hex digit.
bool FromHex(std::string_view hex, std::string* out);

}  // namespace tl
