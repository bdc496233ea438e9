#include "api/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tl::api {
namespace {

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A NumericDate as whole seconds; false if it is not a number or does not fit
// int64 (converting such a double is undefined, and a wrapped value would turn
// a far-future nbf into a past one).
bool Seconds(const nlohmann::json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18)) return false;  // NaN too
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

absl::Status Bad(std::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("invalid token: ", std::string(why)));
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!std::isalnum(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  if (s.size() % 4 == 1) return false;
  size_t pad = (4 - s.size() % 4) % 4;
  s.append(pad, '=');
  out->assign(s.size() / 4 * 3 + 1, '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return false;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

absl::StatusOr<Claims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s) {
  if (token.size() > 4096) return Bad("longer than 4096 bytes");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return Bad("not three dot-separated parts");
  std::string header_raw, payload_raw, sig;
  if (!Base64UrlDecode(token.substr(0, dot1), &header_raw) ||
      !Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload_raw) ||
      !Base64UrlDecode(token.substr(dot2 + 1), &sig))
    return Bad("a part is not base64url");
  nlohmann::json header = nlohmann::json::parse(header_raw, nullptr, false);
  if (!header.is_object()) return Bad("header is not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || *alg != "HS256")
    return Bad("algorithm must be HS256");
  std::string expected = HmacSha256(secret, token.substr(0, dot2));
  if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), sig.size()) != 0)
    return Bad("bad signature");
  nlohmann::json payload = nlohmann::json::parse(payload_raw, nullptr, false);
  if (!payload.is_object()) return Bad("payload is not a JSON object");
  Claims c;
  auto sub = payload.find("sub");
  if (sub == payload.end() || !sub->is_string() || sub->get<std::string>().empty())
    return Bad("no sub claim");
  c.sub = sub->get<std::string>();
  auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number()) return Bad("no exp claim");
  if (!Seconds(*exp, &c.exp)) return Bad("exp claim out of range");
  if (c.exp <= now_s) return Bad("expired");
  auto nbf = payload.find("nbf");
  int64_t nbf_s = 0;
  if (nbf != payload.end() && (!Seconds(*nbf, &nbf_s) || nbf_s > now_s))
    return Bad("not valid yet");
  auto role = payload.find("role");
  c.admin = role != payload.end() && role->is_string() && *role == "admin";
  c.shop = role != payload.end() && role->is_string() && *role == "shop";
  return c;
}

std::string MintJwt(const Claims& claims, std::string_view secret) {
  nlohmann::json payload = {{"sub", claims.sub}, {"exp", claims.exp}};
  if (claims.admin) {
    payload["role"] = "admin";
  } else if (claims.shop) {
    payload["role"] = "shop";
  }
  std::string signing =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(payload.dump());
  return signing + "." + Base64UrlEncode(HmacSha256(secret, signing));
}

}  // namespace tl::api
