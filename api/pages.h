// The pages ticketd serves to browsers, from the files embedded at build
// time (web_assets.h): the waiting room (/ and /drops/{id}), the operator
// dashboard (/admin), the public verifier (/verify/{id}) and their files
// (/assets/{path}). The same HTML for every id: the page's JS reads the id
// from location.pathname. Every answer carries the Content-Security-Policy
// (no inline script or style, nothing from another origin), nosniff, no
// referrer, `Cache-Control: no-cache` and an ETag (If-None-Match: 304). An
// HTML page's `<html lang="en">` becomes `lang="ko"` when Accept-Language
// prefers Korean (Vary: Accept-Language).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/router.h"

namespace tl::api {

inline constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// Registers the page and asset routes (no token needed: the pages hold no data).
void RegisterPageRoutes(Router* router);

// (method, path) of every route RegisterPageRoutes registers.
const std::vector<std::pair<std::string, std::string>>& PageRoutes();

// "ko" when the Accept-Language header's most preferred language is Korean, else "en".
std::string PreferredLanguage(absl::string_view accept_language);

}  // namespace tl::api
