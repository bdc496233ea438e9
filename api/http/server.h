// The HTTP transport of every ticketd role: Boost.Beast on Asio, event-driven.
//
// Threads: `io_threads` event loops, each its own io_context; a connection
// lives on one loop for its whole life, so its code never needs a lock. One
// acceptor drains the kernel's accept queue at every wake-up and deals the
// connections round-robin to the loops. No request holds a thread while it
// waits: a handler answers through its Reply whenever it is ready (a group
// commit, a decision, a live update), from any thread.
//
// A connection reads one request, hands it to the handler, writes the answer,
// then reads the next (HTTP/1.1 keep-alive; pipelined requests wait in the
// read buffer and are answered in order). A handler may answer with a
// StreamSpec instead: the connection becomes an SSE stream or a WebSocket.
//
// Every resource a client controls is bounded (ServerOptions); each limit that
// bites counts in ticketledger_http_limit_hits_total{limit} and is answered
// with a clear status where an answer can still be sent (api/EDGE_SPEC.md).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/http/message.h"
#include "api/metrics.h"

namespace tl::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int io_threads = 0;  // 0: one per core
  int listen_backlog = 4096;
  size_t header_bytes_max = 8 * 1024;  // request line + headers
  size_t header_count_max = 64;
  size_t body_bytes_max = 16 * 1024;  // also when chunked
  int header_timeout_ms = 10'000;     // first byte of a request to its last header
  int request_timeout_ms = 30'000;    // first byte to the last body byte
  int idle_timeout_s = 60;            // keep-alive wait for the next request
  int write_timeout_s = 30;           // a response or stream write
  uint64_t requests_per_connection_max = 100'000;
  size_t connections_max = 0;  // 0: the open-file limit less a reserve
  size_t connections_per_address_max = 1024;
  size_t websocket_message_bytes_max = 1024;  // clients only send control frames
  // One "access" log line for each request or connection the transport
  // refuses itself (a limit, a malformed request), as the router logs the rest.
  bool access_log = false;
};

class Server {
 public:
  // `metrics` (not owned) gets the limit counters; may outlive nothing else.
  Server(ServerOptions options, Handler handler, api::Metrics* metrics);
  ~Server();

  // Binds and listens; returns the port (useful for port 0).
  absl::StatusOr<int> Listen();
  // Starts the event loops (returns at once).
  void Start();
  // Stops accepting, then stops the loops and joins them. Connections are
  // closed; whatever a handler acknowledged before is already durable.
  void Stop();

  size_t connections() const;
  const ServerOptions& options() const { return options_; }

  struct Impl;

 private:
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
};

// One request read from `bytes` as a connection reads it: the same parser
// and limits (ServerOptions) and the same checks once the headers are in.
// The outcome is the Request a handler would get (with the bytes it took;
// pipelined requests follow), the refusal a connection would answer (400
// malformed, 411, 413, 431; `code` as in the error body), or incomplete (a
// connection would wait for more bytes). Pure: for tests and the fuzz target
// (tests/fuzz/http_fuzz.cc).
struct ParsedRequest {
  enum class Outcome { kIncomplete, kRequest, kRefused };
  Outcome outcome = Outcome::kIncomplete;
  Request request;      // kRequest (remote_addr empty)
  size_t consumed = 0;  // kRequest
  int status = 0;       // kRefused
  std::string code;     // kRefused
};
ParsedRequest ParseRequest(absl::string_view bytes, const ServerOptions& options);

// The limit names, as they appear in the metric's `limit` label.
namespace limit {
inline constexpr char kHeaderBytes[] = "header_bytes";
inline constexpr char kHeaderCount[] = "header_count";
inline constexpr char kBodyBytes[] = "body_bytes";
inline constexpr char kLengthRequired[] = "length_required";
inline constexpr char kHeaderTimeout[] = "header_timeout";
inline constexpr char kRequestTimeout[] = "request_timeout";
inline constexpr char kIdleTimeout[] = "idle_timeout";
inline constexpr char kWriteTimeout[] = "write_timeout";
inline constexpr char kRequestsPerConnection[] = "requests_per_connection";
inline constexpr char kConnections[] = "connections";
inline constexpr char kConnectionsPerAddress[] = "connections_per_address";
}  // namespace limit

}  // namespace tl::http
