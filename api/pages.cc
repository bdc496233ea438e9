#include "api/pages.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/web_assets.h"

namespace tl::api {
namespace {

constexpr char kHtmlLangEn[] = "<html lang=\"en\"";
constexpr char kHtmlLangKo[] = "<html lang=\"ko\"";

bool IsHtml(const WebAsset& a) { return a.content_type.starts_with("text/html"); }

// The Korean variant of an HTML asset: its <html lang="en"> rewritten, once.
const std::string& KoreanBody(const WebAsset& a) {
  static const std::map<std::string_view, std::string> bodies = [] {
    std::map<std::string_view, std::string> m;
    for (const WebAsset& w : WebAssets()) {
      if (!IsHtml(w)) continue;
      std::string body(w.body);
      if (size_t at = body.find(kHtmlLangEn); at != std::string::npos)
        body.replace(at, sizeof kHtmlLangEn - 1, kHtmlLangKo);
      m.emplace(w.path, std::move(body));
    }
    return m;
  }();
  return bodies.at(a.path);
}

// If-None-Match lists `etag` (or is "*"); weak validators compare equal.
bool NotModified(absl::string_view if_none_match, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(if_none_match, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

void AddPageHeaders(http::Response* r) {
  r->Set("Content-Security-Policy", kContentSecurityPolicy);
  r->Set("X-Content-Type-Options", "nosniff");
  r->Set("Referrer-Policy", "no-referrer");
  r->Set("Cache-Control", "no-cache");
}

void Serve(const CallPtr& c, const WebAsset* a) {
  if (!a) {
    http::Response r = http::ErrorResponse(404, "not_found",
                                           absl::StrCat("no asset ", c->req.path.substr(0, 256)));
    AddPageHeaders(&r);
    return c->Respond(std::move(r));
  }
  http::Response r;
  AddPageHeaders(&r);
  std::string etag(a->etag);
  std::string_view body = a->body;
  if (IsHtml(*a)) {
    // One Vary header: the transport sets headers by name, so CORS's Vary: Origin joins it.
    std::string vary = "Accept-Language";
    for (auto it = c->headers.begin(); it != c->headers.end(); ++it) {
      if (absl::EqualsIgnoreCase(it->first, "Vary")) {
        vary = absl::StrCat(it->second, ", ", vary);
        c->headers.erase(it);
        break;
      }
    }
    r.Set("Vary", vary);
    if (PreferredLanguage(c->req.Header("Accept-Language")) == "ko") {
      body = KoreanBody(*a);
      etag.insert(etag.size() - 1, "-ko");
    }
  }
  r.Set("ETag", etag);
  r.content_type = std::string(a->content_type);
  if (NotModified(c->req.Header("If-None-Match"), etag)) {
    r.status = 304;
    return c->Respond(std::move(r));
  }
  r.body = std::string(body);
  c->Respond(std::move(r));
}

// A page route: the same HTML for every id.
Router::Route Page(const char* path, const char* name, const char* file) {
  return {"GET", path, name, [file](const CallPtr& c) {
            const WebAsset* a = FindWebAsset(file);
            if (a) return Serve(c, a);
            http::Response r = http::ErrorResponse(
                404, "page_not_built",
                absl::StrCat("this ticketd was built without api/web/static/", file));
            AddPageHeaders(&r);
            c->Respond(std::move(r));
          }};
}

}  // namespace

std::string PreferredLanguage(absl::string_view accept_language) {
  // "ko-KR,ko;q=0.9,en;q=0.8": the highest q wins, the first of equals.
  std::string best = "en";
  double best_q = -1;
  for (absl::string_view item : absl::StrSplit(accept_language, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    absl::string_view tag = absl::StripAsciiWhitespace(parts[0]);
    double q = 1;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (absl::ConsumePrefix(&p, "q=") && !absl::SimpleAtod(p, &q)) q = 0;
    }
    if (tag.empty() || tag == "*" || q <= 0 || q <= best_q) continue;
    best_q = q;
    const absl::string_view primary = tag.substr(0, tag.find('-'));
    best = absl::EqualsIgnoreCase(primary, "ko") ? "ko" : "en";
  }
  return best;
}

const std::vector<std::pair<std::string, std::string>>& PageRoutes() {
  static const std::vector<std::pair<std::string, std::string>> kRoutes = {
      {"GET", "/"},
      {"GET", "/drops/{id}"},
      {"GET", "/admin"},
      {"GET", "/verify/{id}"},
      {"GET", "/assets/{path}"}};
  return kRoutes;
}

void RegisterPageRoutes(Router* router) {
  router->Add(Page("/", "page_index", "index.html"));
  router->Add(Page("/drops/{id}", "page_drop", "drop.html"));
  router->Add(Page("/admin", "page_admin", "admin.html"));
  router->Add(Page("/verify/{id}", "page_verify", "verify.html"));
  router->Add({"GET", "/assets/{path}", "asset",
               [](const CallPtr& c) { Serve(c, FindWebAsset(c->params.at(0))); }});
}

}  // namespace tl::api
