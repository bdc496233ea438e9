#include "engine/core/limits.h"

#include "absl/strings/str_cat.h"

namespace tl {

bool IsCleanUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls
    p += n + 1;
  }
  return true;
}

absl::Status ValidateItemId(std::string_view id, const Limits& limits) {
  if (id.empty()) return absl::InvalidArgumentError("item id is empty");
  if (id.size() > limits.item_id_bytes_max)
    return absl::InvalidArgumentError(
        absl::StrCat("item id is ", id.size(), " bytes; the limit is ", limits.item_id_bytes_max));
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return absl::InvalidArgumentError(
          "item id may contain only letters, digits, '.', '_' and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateCampaignId(std::string_view id, const Limits& limits) {
  if (id.empty()) return absl::InvalidArgumentError("campaign id is empty");
  if (id.size() > limits.campaign_id_bytes_max)
    return absl::InvalidArgumentError(absl::StrCat(
        "campaign id is ", id.size(), " bytes; the limit is ", limits.campaign_id_bytes_max));
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return absl::InvalidArgumentError(
          "campaign id may contain only letters, digits, '.', '_' and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateUserId(std::string_view id, const Limits& limits) {
  if (id.empty()) return absl::InvalidArgumentError("user id is empty");
  if (id.size() > limits.user_id_bytes_max)
    return absl::InvalidArgumentError(
        absl::StrCat("user id is ", id.size(), " bytes; the limit is ", limits.user_id_bytes_max));
  if (!IsCleanUtf8(id))
    return absl::InvalidArgumentError("user id must be UTF-8 without control characters");
  return absl::OkStatus();
}

absl::Status ValidateRequestId(std::string_view id, const Limits& limits) {
  if (id.size() > limits.request_id_bytes_max)
    return absl::InvalidArgumentError(absl::StrCat(
        "request id is ", id.size(), " bytes; the limit is ", limits.request_id_bytes_max));
  for (char c : id) {
    if (c < 0x21 || c > 0x7e)
      return absl::InvalidArgumentError("request id must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status ValidateTitle(std::string_view title, const Limits& limits) {
  if (title.size() > limits.title_bytes_max)
    return absl::InvalidArgumentError(
        absl::StrCat("title is ", title.size(), " bytes; the limit is ", limits.title_bytes_max));
  if (!IsCleanUtf8(title))
    return absl::InvalidArgumentError("title must be UTF-8 without control characters");
  return absl::OkStatus();
}

}  // namespace tl
