// The pages' files, embedded into ticketd at build time (api/web/embed.cmake
// generates the table from api/web/static/ and the two uPlot files): what
// /assets/<path> serves, with the content type by extension and an ETag (the
// first 128 bits of the content's SHA-256, quoted).
#pragma once

#include <string_view>
#include <vector>

namespace tl::api {

struct WebAsset {
  std::string_view path;  // served at /assets/<path>: "index.html", "js/i18n.js", "vendor/..."
  std::string_view content_type;
  std::string_view etag;  // with its quotes
  std::string_view body;
};

// Every embedded file (generated).
const std::vector<WebAsset>& WebAssets();

// The asset at `path` (relative to /assets/), or null.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace tl::api
