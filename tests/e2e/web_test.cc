// End to end: what ticketd serves to browsers, against a real ticketd
// process. The pages and their files (embedded at build time) with their
// security and caching headers, the Korean variant by Accept-Language; the
// browser session (an HttpOnly cookie for the token, the X-Requested-With
// rule, the development sign-in); the campaign list and the operator's
// overview the pages read.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "api/api.h"
#include "api/pages.h"
#include "api/web_assets.h"
#include "tests/support/servers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

using json = nlohmann::json;

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The headers every page and asset carries.
void ExpectPageHeaders(const httplib::Response& r, const std::string& what) {
  EXPECT_EQ(r.get_header_value("Content-Security-Policy"),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
      << what;
  EXPECT_EQ(r.get_header_value("X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(r.get_header_value("Referrer-Policy"), "no-referrer") << what;
  EXPECT_EQ(r.get_header_value("Cache-Control"), "no-cache") << what;
}

std::string ContentTypeFor(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".md" || ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "";
}

// Every file under api/web/static/, as served: the embedded table is the
// source tree's, byte for byte.
TEST(Web, EveryStaticFileIsServedWithItsTypeAndHeaders) {
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::filesystem::path root = std::string(TL_SOURCE_DIR) + "/api/web/static";
  std::set<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.insert(std::filesystem::relative(e.path(), root).string());
  }
  ASSERT_FALSE(files.empty());
  std::set<std::string> etags;
  for (const std::string& f : files) {
    auto r = c->Get("/assets/" + f);
    ASSERT_TRUE(r) << f;
    EXPECT_EQ(r->status, 200) << f;
    EXPECT_EQ(r->body, ReadFile((root / f).string())) << f;
    if (std::string type = ContentTypeFor(f); !type.empty()) {
      EXPECT_EQ(r->get_header_value("Content-Type"), type) << f;
    }
    ExpectPageHeaders(*r, f);
    const std::string etag = r->get_header_value("ETag");
    EXPECT_TRUE(std::regex_match(etag, std::regex("\"[0-9a-f]{32}(-ko)?\""))) << f << ": " << etag;
    etags.insert(etag);
  }
  EXPECT_EQ(etags.size(), files.size()) << "two files with one ETag";
  // uPlot, from npm, under vendor/.
  const std::string dist = std::string(TL_SOURCE_DIR) + "/api/web/node_modules/uplot/dist/";
  auto r = c->Get("/assets/vendor/uPlot.esm.js");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(r->body, ReadFile(dist + "uPlot.esm.js"));
  ExpectPageHeaders(*r, "uPlot.esm.js");
  r = c->Get("/assets/vendor/uPlot.min.css");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(r->body, ReadFile(dist + "uPlot.min.css"));
  // What the binary holds is what the tree holds, no more.
  EXPECT_EQ(api::WebAssets().size(), files.size() + 2);
}

// The four page routes: the same HTML for any id, from api/web/static/.
TEST(Web, PageRoutesServeTheirHtml) {
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string root = std::string(TL_SOURCE_DIR) + "/api/web/static/";
  const std::vector<std::pair<std::string, std::string>> pages = {
      {"/", "index.html"},
      {"/drops/demo", "drop.html"},
      {"/drops/another-id", "drop.html"},
      {"/admin", "admin.html"},
      {"/verify/demo", "verify.html"}};
  for (const auto& [path, file] : pages) {
    auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    ExpectPageHeaders(*r, path);
    if (!std::filesystem::exists(root + file)) {
      // Built without that page: says so.
      EXPECT_EQ(r->status, 404) << path;
      EXPECT_EQ(Body(r)["error"]["code"], "page_not_built") << path;
      continue;
    }
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_EQ(r->get_header_value("Vary"), "Accept-Language") << path;
    EXPECT_EQ(r->body, ReadFile(root + file)) << path;
    EXPECT_EQ(r->get_header_value("ETag"), api::FindWebAsset(file)->etag) << path;
  }
  // Not a page: the id segment is required, and nothing under a page.
  for (const char* path : {"/drops/", "/drops/a/b", "/verify", "/admin/x"}) {
    auto r = c->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << path;
  }
}

TEST(Web, IfNoneMatchAnswers304) {
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  for (const char* path : {"/assets/vendor/uPlot.esm.js", "/assets/vendor/uPlot.min.css"}) {
    auto r = c->Get(path);
    ASSERT_TRUE(r && r->status == 200) << path;
    const std::string etag = r->get_header_value("ETag");
    r = c->Get(path, {{"If-None-Match", etag}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 304) << path;
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(r->get_header_value("ETag"), etag);
    ExpectPageHeaders(*r, path);
    // A list, a weak validator, or any.
    for (const std::string& inm : {"\"0000\", " + etag, "W/" + etag, std::string("*")}) {
      r = c->Get(path, {{"If-None-Match", inm}});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 304) << inm;
    }
    r = c->Get(path, {{"If-None-Match", "\"0123456789abcdef0123456789abcdef\""}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST(Web, PreferredLanguageFollowsAcceptLanguage) {
  EXPECT_EQ(api::PreferredLanguage(""), "en");
  EXPECT_EQ(api::PreferredLanguage("ko"), "ko");
  EXPECT_EQ(api::PreferredLanguage("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"), "ko");
  EXPECT_EQ(api::PreferredLanguage("KO-kr"), "ko");
  EXPECT_EQ(api::PreferredLanguage("en-US,en;q=0.9,ko;q=0.8"), "en");
  EXPECT_EQ(api::PreferredLanguage("en;q=0.5, ko;q=0.8"), "ko");
  EXPECT_EQ(api::PreferredLanguage("fr, ko;q=0.9"), "en");  // neither: English
  EXPECT_EQ(api::PreferredLanguage("*, ko;q=0.1"), "ko");
  EXPECT_EQ(api::PreferredLanguage("ko;q=0"), "en");
  EXPECT_EQ(api::PreferredLanguage("ko;q=junk"), "en");
  EXPECT_EQ(api::PreferredLanguage(",,;;,"), "en");
}

// An HTML page in Korean: <html lang="ko">, its own ETag, the same otherwise.
TEST(Web, KoreanVariantByAcceptLanguage) {
  const api::WebAsset* html = nullptr;
  for (const api::WebAsset& a : api::WebAssets()) {
    if (a.content_type.starts_with("text/html") &&
        a.body.find("<html lang=\"en\"") != a.body.npos) {
      html = &a;
      break;
    }
  }
  ASSERT_NE(html, nullptr) << "no page under api/web/static/ has <html lang=\"en\">";
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string path = "/assets/" + std::string(html->path);
  auto en = c->Get(path, {{"Accept-Language", "en-US,en;q=0.9,ko;q=0.8"}});
  auto ko = c->Get(path, {{"Accept-Language", "ko-KR,ko;q=0.9,en;q=0.8"}});
  ASSERT_TRUE(en && ko && en->status == 200 && ko->status == 200);
  EXPECT_EQ(en->body, html->body);
  std::string want(html->body);
  want.replace(want.find("<html lang=\"en\""), 15, "<html lang=\"ko\"");
  EXPECT_EQ(ko->body, want);
  EXPECT_EQ(en->get_header_value("Vary"), "Accept-Language");
  EXPECT_EQ(ko->get_header_value("Vary"), "Accept-Language");
  const std::string en_tag = en->get_header_value("ETag"), ko_tag = ko->get_header_value("ETag");
  EXPECT_NE(en_tag, ko_tag);
  // The Korean ETag revalidates only the Korean variant.
  auto r = c->Get(path, {{"Accept-Language", "ko"}, {"If-None-Match", ko_tag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  r = c->Get(path, {{"If-None-Match", ko_tag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, html->body);
}

TEST(Web, UnknownAssetsAre404) {
  TempDir dir;
  TicketdProcess d(dir.path(), {});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  for (const char* path : {"/assets/nope.js", "/assets/", "/assets", "/assets/../CMakeLists.txt",
                           "/assets/%2e%2e/CMakeLists.txt", "/assets/vendor/",
                           "/assets//vendor/uPlot.min.css", "/assets/vendor/uPlot.cjs.js"}) {
    auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
  }
  auto r = c->Post("/assets/vendor/uPlot.min.css", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

// --- browser sessions ---------------------------------------------------------

// The Set-Cookie attributes; returns the cookie's value.
std::string ExpectSessionCookie(const httplib::Result& r, int64_t max_age_min, int64_t max_age_max,
                                bool secure = false) {
  const std::string set = r->get_header_value("Set-Cookie");
  std::smatch m;
  const std::regex re(
      "^tl_session=([A-Za-z0-9_.-]*); Path=/; HttpOnly; SameSite=Strict; Max-Age=([0-9]+)" +
      std::string(secure ? "; Secure$" : "$"));
  EXPECT_TRUE(std::regex_match(set, m, re)) << set;
  if (m.empty()) return "";
  const int64_t max_age = std::stoll(m[2]);
  EXPECT_GE(max_age, max_age_min) << set;
  EXPECT_LE(max_age, max_age_max) << set;
  return m[1];
}

httplib::Headers Cookie(const std::string& value, bool xrw = true) {
  httplib::Headers h = {{"Cookie", "theme=dark; tl_session=" + value + "; other=1"}};
  if (xrw) h.emplace("X-Requested-With", "ticketledger");
  return h;
}

void Create(httplib::Client& c, const std::string& id) {
  auto r = c.Post("/v1/admin/campaigns", Auth(Token("ops", true)),
                  json{{"id", id}, {"stock", 5}, {"win_bps", 5000}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
}

TEST(Web, SessionCookieRoundTrip) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--user-rate", "0"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Create(*c, "web");
  // Nobody yet.
  auto r = c->Get("/v1/session");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r), json({{"signed_in", false}, {"dev", false}}));
  EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
  // The exchange needs a token.
  r = c->Post("/v1/session", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c->Post("/v1/session", Auth(Token("alice") + "x"), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
  // The token becomes the cookie, for as long as the token lives.
  const std::string token = Token("alice", false, 600);
  r = c->Post("/v1/session", Auth(token), "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string cookie = ExpectSessionCookie(r, 590, 600);
  EXPECT_EQ(cookie, token);
  json s = Body(r);
  EXPECT_EQ(s["signed_in"], true);
  EXPECT_EQ(s["user"], "alice");
  EXPECT_EQ(s["admin"], false);
  EXPECT_EQ(s["dev"], false);
  EXPECT_NEAR(s["expires_at_ms"].get<double>(), (time(nullptr) + 600) * 1000.0, 15'000);
  r = c->Get("/v1/session", Cookie(cookie, false));
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(r), s);

  // The cookie authenticates reads (GET needs no extra header) ...
  r = c->Get("/v1/campaigns/web/entries/me", Cookie(cookie, false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;  // signed in, not entered
  EXPECT_EQ(Body(r)["error"]["code"], "not_entered");
  // ... and writes only with X-Requested-With: ticketledger.
  r = c->Post("/v1/campaigns/web/entries", Cookie(cookie, false), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Body(r)["error"]["code"], "csrf");
  httplib::Headers wrong = Cookie(cookie, false);
  wrong.emplace("X-Requested-With", "XMLHttpRequest");
  r = c->Post("/v1/campaigns/web/entries", wrong, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = c->Post("/v1/campaigns/web/entries", Cookie(cookie), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  json entry;
  for (int i = 0; i < 100; ++i) {
    r = c->Get("/v1/campaigns/web/entries/me", Cookie(cookie, false));
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(Body(r)["user"], "alice");
  // The same entry as the Bearer token sees.
  auto bearer = c->Get("/v1/campaigns/web/entries/me", Auth(token));
  ASSERT_TRUE(bearer && bearer->status == 200);
  EXPECT_EQ(Body(bearer)["position"], Body(r)["position"]);
  // A Bearer token wins over the cookie: no X-Requested-With needed then.
  r = c->Post("/v1/campaigns/web/entries",
              {{"Authorization", "Bearer " + Token("bob")}, {"Cookie", "tl_session=" + cookie}}, "",
              "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  // Admin routes: a user's cookie is not an admin's.
  r = c->Post("/v1/admin/campaigns/web/pause", Cookie(cookie), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Body(r)["error"]["code"], "forbidden");
  const std::string admin = Token("ops", true, 600);
  r = c->Post("/v1/session", Auth(admin), "", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(Body(r)["admin"], true);
  r = c->Post("/v1/admin/campaigns/web/pause", Cookie(admin, false), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Body(r)["error"]["code"], "csrf");
  r = c->Post("/v1/admin/campaigns/web/pause", Cookie(admin), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  // Signing out clears the cookie.
  r = c->Delete("/v1/session", Cookie(cookie));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(ExpectSessionCookie(r, 0, 0), "");
  EXPECT_EQ(Body(r)["signed_in"], false);
}

TEST(Web, ForgedOrExpiredCookiesAreRefused) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--cookie-secure"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Create(*c, "web");
  const std::string forged =
      api::MintJwt({"mallory", true, time(nullptr) + 600}, "another-secret-0123456789abcdef");
  const std::string expired = Token("alice", false, -10);
  for (const std::string& bad : {forged, expired, std::string("garbage"), std::string()}) {
    // Not signed in, and the browser is told to forget it (not a 401).
    auto r = c->Get("/v1/session", Cookie(bad));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(Body(r)["signed_in"], false);
    EXPECT_EQ(ExpectSessionCookie(r, 0, 0, /*secure=*/true), "") << bad;
    r = c->Get("/v1/campaigns/web/entries/me", Cookie(bad));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << bad;
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("session cookie"),
              std::string::npos);
    r = c->Post("/v1/admin/campaigns/web/close", Cookie(bad), "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << bad;
  }
  // With --cookie-secure the session cookie is Secure.
  auto r = c->Post("/v1/session", Auth(Token("alice", false, 100)), "", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  ExpectSessionCookie(r, 90, 100, /*secure=*/true);
  // The dev sign-in is not served without --dev.
  r = c->Post("/v1/dev/session", R"({"user":"alice"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
}

TEST(Web, DevSignIn) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--dev"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Create(*c, "web");
  auto r = c->Get("/v1/session");
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(r), json({{"signed_in", false}, {"dev", true}}));
  for (const char* bad :
       {R"({})", R"({"user":""})", R"({"user":"a\u0001b"})", R"({"user":7})",
        R"({"user":"alice","admin":"yes"})", R"({"user":"alice","role":"x"})", R"([1])"}) {
    r = c->Post("/v1/dev/session", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " " << r->body;
    EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
  }
  r = c->Post("/v1/dev/session", R"({"user":"alice"})", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = c->Post("/v1/dev/session", R"({"user":"alice"})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string user = ExpectSessionCookie(r, 12 * 3600 - 10, 12 * 3600);
  EXPECT_EQ(Body(r)["user"], "alice");
  EXPECT_EQ(Body(r)["admin"], false);
  EXPECT_EQ(Body(r)["dev"], true);
  r = c->Post("/v1/campaigns/web/entries", Cookie(user), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  r = c->Post("/v1/dev/session", R"({"user":"ops","admin":true})", "application/json");
  ASSERT_TRUE(r && r->status == 200);
  const std::string admin = ExpectSessionCookie(r, 12 * 3600 - 10, 12 * 3600);
  r = c->Get("/v1/admin/overview", Cookie(admin, false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// EventSource sends the cookie to its own origin: /events takes it.
TEST(Web, LiveStreamsTakeTheCookie) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--stream-max-s", "1"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Create(*c, "web");
  const std::string token = Token("alice");
  auto r = c->Post("/v1/campaigns/web/entries", Auth(token), "", "application/json");
  ASSERT_TRUE(r && r->status == 202);
  std::string stream;
  r = d.Client()->Get("/v1/campaigns/web/events", Cookie(token, false),
                      [&](const char* data, size_t len) {
                        stream.append(data, len);
                        return true;
                      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(stream.find("\"user\":\"alice\""), std::string::npos) << stream;
  r = c->Get("/v1/campaigns/web/events", Cookie("forged"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // Signed in by the cookie, a stream must come from a page of this origin
  // (compared with the Host header: a proxy in front must pass Host through).
  httplib::Headers foreign = Cookie(token, false);
  foreign.emplace("Origin", "https://evil.example");
  r = c->Get("/v1/campaigns/web/events", foreign);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Body(r)["error"]["code"], "origin_not_allowed");
  // Its own origin is fine (the stream ends after --stream-max-s).
  httplib::Headers own = Cookie(token, false);
  own.emplace("Origin", "http://127.0.0.1:" + std::to_string(d.port()));
  r = d.Client()->Get("/v1/campaigns/web/events", own, [](const char*, size_t) { return true; });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // A Bearer token is not something another site's page holds: no Origin rule.
  httplib::Headers bearer = Auth(token);
  bearer.emplace("Origin", "https://shop.example");
  r = d.Client()->Get("/v1/campaigns/web/events", bearer, [](const char*, size_t) { return true; });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// --- the lists the pages read -----------------------------------------------------

TEST(Web, CampaignListPagesAndFilters) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--partitions", "4"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  auto r = c->Get("/v1/campaigns");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r), json({{"campaigns", json::array()}}));
  const std::vector<std::string> ids = {"a1", "b2", "c3", "d4", "e5", "f6", "g7"};
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) Create(*c, *it);
  for (const char* id : {"b2", "e5"}) {
    r = c->Post(std::string("/v1/admin/campaigns/") + id + "/close", Auth(Token("ops", true)), "",
                "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  }
  // Every campaign in id order, across the partitions, in pages of 3.
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    r = c->Get("/v1/campaigns?limit=3" + (after.empty() ? "" : "&after=" + after));
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
    json b = Body(r);
    for (const json& cj : b["campaigns"]) {
      seen.push_back(cj["id"]);
      EXPECT_TRUE(cj.contains("stock_left") && cj.contains("status") && cj.contains("entries"));
    }
    if (!b.contains("next_after")) break;
    after = b["next_after"];
  }
  EXPECT_EQ(seen, ids);
  // The same as each campaign's own answer.
  r = c->Get("/v1/campaigns");
  ASSERT_TRUE(r);
  const json all = Body(r);
  ASSERT_EQ(all["campaigns"].size(), ids.size());
  for (const json& cj : all["campaigns"]) {
    auto one = c->Get("/v1/campaigns/" + cj["id"].get<std::string>());
    ASSERT_TRUE(one && one->status == 200);
    EXPECT_EQ(Body(one), cj);
  }
  r = c->Get("/v1/campaigns?status=closed");
  ASSERT_TRUE(r && r->status == 200);
  std::vector<std::string> closed;
  const json closed_page = Body(r);
  for (const json& cj : closed_page["campaigns"]) closed.push_back(cj["id"]);
  EXPECT_EQ(closed, (std::vector<std::string>{"b2", "e5"}));
  r = c->Get("/v1/campaigns?status=open&after=b2&limit=2");
  ASSERT_TRUE(r && r->status == 200);
  json b = Body(r);
  ASSERT_EQ(b["campaigns"].size(), 2u);
  EXPECT_EQ(b["campaigns"][0]["id"], "c3");
  EXPECT_EQ(b["campaigns"][1]["id"], "d4");
  EXPECT_EQ(b["next_after"], "d4");
  r = c->Get("/v1/campaigns?limit=1000");
  ASSERT_TRUE(r && r->status == 200);
  for (const char* bad : {"limit=0", "limit=1001", "limit=x", "status=paused", "after=a%20b",
                          "after=" /* empty is fine */}) {
    r = c->Get(std::string("/v1/campaigns?") + bad);
    ASSERT_TRUE(r);
    if (std::string(bad) == "after=") {
      EXPECT_EQ(r->status, 200);
      continue;
    }
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(Body(r)["error"]["code"], "invalid_query") << bad;
  }
}

TEST(Web, AdminOverview) {
  TempDir dir;
  TicketdProcess d(dir.path(), {"--partitions", "2"});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  auto r = c->Get("/v1/admin/overview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c->Get("/v1/admin/overview", Auth(Token("alice")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  Create(*c, "web");
  r = c->Get("/v1/admin/overview", Auth(Token("ops", true)));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json o = Body(r);
  EXPECT_NEAR(o["server_time_ms"].get<double>(), time(nullptr) * 1000.0, 15'000);
  EXPECT_EQ(o["role"], "all");
  EXPECT_EQ(o["ready"]["ok"], true);
  EXPECT_EQ(o["ready"]["reason"], "");
  ASSERT_EQ(o["partitions"].size(), 2u);
  uint64_t decided = 0;
  for (int p = 0; p < 2; ++p) {
    const json& part = o["partitions"][p];
    EXPECT_EQ(part["partition"], p);
    EXPECT_GE(part["end"].get<uint64_t>(), part["decided_end"].get<uint64_t>());
    EXPECT_EQ(part["lag"].get<uint64_t>(),
              part["end"].get<uint64_t>() - part["decided_end"].get<uint64_t>());
    decided += part["decided_end"].get<uint64_t>();
  }
  EXPECT_GE(decided, 1u);  // the create
  EXPECT_EQ(o["projections"], json::array());
  EXPECT_TRUE(o["kafka"].is_null());
  ASSERT_EQ(o["campaigns"].size(), 1u);
  EXPECT_EQ(o["campaigns"][0], Body(c->Get("/v1/campaigns/web")));
  EXPECT_EQ(o["campaigns_truncated"], false);
}

// With a read model the overview shows its store: caught up, then away.
TEST(Web, AdminOverviewShowsTheReadModels) {
  TempDir dir;
  RedisServer redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.ok()) << "could not start redis-server";
  TicketdProcess d(dir.Sub("data"), {"--redis-url", redis.url()});
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  Create(*c, "web");
  json store;
  for (int i = 0; i < 100; ++i) {
    auto r = c->Get("/v1/admin/overview", Auth(Token("ops", true)));
    ASSERT_TRUE(r && r->status == 200);
    json o = Body(r);
    ASSERT_EQ(o["projections"].size(), 1u) << o;
    store = o["projections"][0];
    if (store["lag_events"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(store["store"], "redis");
  EXPECT_EQ(store["ok"], true);
  EXPECT_EQ(store["lag_events"], 0);
  EXPECT_EQ(store["error"], "");
  // Redis goes away; new events cannot reach it.
  redis.Stop();
  Create(*c, "web2");
  for (int i = 0; i < 200; ++i) {
    auto r = c->Get("/v1/admin/overview", Auth(Token("ops", true)));
    ASSERT_TRUE(r && r->status == 200);
    store = Body(r)["projections"][0];
    if (store["ok"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(store["ok"], false) << store;
  EXPECT_GT(store["lag_events"].get<uint64_t>(), 0u) << store;
  EXPECT_NE(store["error"], "") << store;
}

// Role api over Kafka: the overview says so and shows its follower's lag.
TEST(Web, AdminOverviewOfTheApiRoleShowsKafka) {
  TempDir dir;
  TicketdProcess mock(TL_TICKETCTL, {"kafka-mock"}, {}, "^([0-9.:,]+)");
  ASSERT_TRUE(mock.ok());
  const std::vector<std::string> kafka = {"--kafka-brokers", mock.match()};
  TicketdProcess engine(dir.Sub("engine"), RoleArgs("engine", kafka));
  ASSERT_TRUE(engine.ok());
  TicketdProcess api(dir.Sub("api"), RoleArgs("api", kafka));
  ASSERT_TRUE(api.ok());
  auto c = api.Client();
  auto r = c->Post("/v1/admin/campaigns", Auth(Token("ops", true), "wait=10"),
                   json{{"id", "web"}, {"stock", 5}, {"win_bps", 5000}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  r = c->Get("/v1/admin/overview", Auth(Token("ops", true)));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json o = Body(r);
  EXPECT_EQ(o["role"], "api");
  ASSERT_TRUE(o["kafka"].is_object()) << o;
  EXPECT_TRUE(o["kafka"]["consumer_lag"].is_number_unsigned()) << o;
  EXPECT_FALSE(o["partitions"].empty());
  for (const json& part : o["partitions"]) EXPECT_TRUE(part["end"].is_number_unsigned()) << part;
  EXPECT_EQ(o["projections"], json::array());
  ASSERT_EQ(o["campaigns"].size(), 1u);
  EXPECT_EQ(o["campaigns"][0]["id"], "web");
}

}  // namespace
}  // namespace tl::testing
