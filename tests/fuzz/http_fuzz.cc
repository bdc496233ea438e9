// The HTTP request parser of every ticketd role (api/http/server.h): bytes
// from a client read by ParseRequest, which is the connection's own parser
// configuration and checks (Boost.Beast's parser with the ServerOptions
// limits). The first byte picks the limits: ticketd's defaults, or tiny ones
// the fuzzer reaches often. Then up to 8 pipelined requests are read as a
// keep-alive connection reads them. Checked: a request handed on is within
// every limit (header bytes and count, body bytes; a body only with a
// length); a refusal is one of the statuses a connection answers; a request
// is incomplete in every shorter prefix of its bytes and the same from
// exactly its bytes; and the query reader takes any query.
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "api/http/server.h"
#include "fuzz_check.h"

namespace {

using tl::http::ParsedRequest;

bool Same(const tl::http::Request& a, const tl::http::Request& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query && a.headers == b.headers &&
         a.body == b.body && a.websocket == b.websocket;
}

void CheckRequest(absl::string_view bytes, const ParsedRequest& p,
                  const tl::http::ServerOptions& o) {
  const tl::http::Request& r = p.request;
  FUZZ_CHECK(p.consumed > 0 && p.consumed <= bytes.size());
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(r.headers.size() <= o.header_count_max);
  FUZZ_CHECK(r.body.size() <= o.body_bytes_max);
  if (r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
    FUZZ_CHECK(!r.Header("Content-Length").empty() || !r.Header("Transfer-Encoding").empty());
  for (const auto& [k, v] : r.headers) FUZZ_CHECK(k.size() + v.size() <= o.header_bytes_max);
  for (const char* name : {"limit", "cursor", "after", "outcome", "ticket"}) {
    std::optional<std::string> v = r.Query(name);
    if (v) FUZZ_CHECK(v->size() <= r.query.size());
  }
  // Its own bytes give the same request; a shorter prefix is incomplete.
  const absl::string_view own = bytes.substr(0, p.consumed);
  const ParsedRequest again = tl::http::ParseRequest(own, o);
  FUZZ_CHECK(again.outcome == ParsedRequest::Outcome::kRequest);
  FUZZ_CHECK(again.consumed == p.consumed && Same(again.request, r));
  const size_t cut = own.size() / 2;
  FUZZ_CHECK(tl::http::ParseRequest(own.substr(0, cut), o).outcome ==
             ParsedRequest::Outcome::kIncomplete);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  tl::http::ServerOptions o;
  if (data[0] & 1) {
    o.header_bytes_max = 256;
    o.header_count_max = 8;
    o.body_bytes_max = 64;
  }
  absl::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  for (int n = 0; n < 8 && !bytes.empty(); ++n) {
    const ParsedRequest p = tl::http::ParseRequest(bytes, o);
    switch (p.outcome) {
      case ParsedRequest::Outcome::kIncomplete:
        return 0;
      case ParsedRequest::Outcome::kRefused:
        FUZZ_CHECK(p.status == 400 || p.status == 411 || p.status == 413 || p.status == 431);
        FUZZ_CHECK(!p.code.empty());
        return 0;  // a connection answers and closes
      case ParsedRequest::Outcome::kRequest:
        CheckRequest(bytes, p, o);
        bytes.remove_prefix(p.consumed);
        break;
    }
  }
  return 0;
}
