// The plain values a route handler sees: a request and the response it
// answers with. Handlers never touch a socket; the transport (server.h) turns
// bytes into a Request and a Response back into bytes, so a handler is tested
// by calling it with a Request and looking at the Response it replies.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tl::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target before '?', not decoded
  std::string query;   // after '?', not decoded
  Headers headers;
  std::string body;
  std::string remote_addr;  // the peer's IP address
  bool websocket = false;   // a WebSocket upgrade request

  // The first header of that name (case-insensitive), "" if none.
  absl::string_view Header(absl::string_view name) const;
  // A query parameter, percent-decoded; nullopt if absent.
  std::optional<std::string> Query(absl::string_view name) const;
};

// One message of a live stream: a snapshot of the watcher's state. `id` is
// the ledger sequence it reflects (SSE `id:`), so a reconnecting client can
// say where it was.
struct LiveMessage {
  uint64_t id = 0;
  std::string data;    // JSON
  bool final = false;  // the stream ends after this message
};

// A live connection the transport holds for a route (SSE or WebSocket).
// Thread-safe. Messages are snapshots: while one is being written, a newer
// one replaces any still waiting, so a slow reader costs at most two
// messages of memory; a reader slower than the write deadline is dropped.
class StreamConn {
 public:
  virtual ~StreamConn() = default;
  virtual void Send(LiveMessage message) = 0;
  // A keep-alive comment (SSE) or ping (WebSocket), only when nothing is being written.
  virtual void Ping() = 0;
  virtual void Close() = 0;
};

// Returned by a handler that turns the connection into a live stream.
struct StreamSpec {
  enum class Kind { kSse, kWebSocket };
  Kind kind = Kind::kSse;
  // Called on the connection's thread once the response head (SSE) or the
  // handshake (WebSocket) is written.
  std::function<void(std::shared_ptr<StreamConn>)> on_open;
  // Called once when the stream ends, whichever side ended it (also when it
  // never opened).
  std::function<void()> on_close;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
  std::shared_ptr<StreamSpec> stream;  // set: a live stream instead of a body

  void Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// How a handler answers: exactly once, from any thread.
using Reply = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Reply)>;

// The one JSON error shape: {"error":{"code":...,"message":...}}.
Response ErrorResponse(int status, absl::string_view code, absl::string_view message);

}  // namespace tl::http
