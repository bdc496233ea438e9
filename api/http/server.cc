#include "api/http/server.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cassert>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/logger.h"

namespace tl::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

absl::string_view Request::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> Request::Query(absl::string_view name) const {
  absl::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    absl::string_view pair = q.substr(0, amp);
    q = amp == absl::string_view::npos ? absl::string_view() : q.substr(amp + 1);
    size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) != name) continue;
    return eq == absl::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

Response ErrorResponse(int status, absl::string_view code, absl::string_view message) {
  Response r;
  r.status = status;
  r.body =
      nlohmann::json{{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}}
          .dump();
  return r;
}

namespace {

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// A request the transport refuses before a handler sees it.
struct Refusal {
  int status;
  const char* limit;  // the limit that bit; null: a malformed request
  std::string code, message;
};

// The parser of one request, with the limits a client controls.
void ConfigureParser(RequestParser* p, const ServerOptions& o) {
  p->header_limit(static_cast<uint32_t>(o.header_bytes_max));
  p->body_limit(o.body_bytes_max);
}

// Once the headers are read: their count, and a length for a method with a body.
std::optional<Refusal> CheckHeader(const RequestParser& p, const ServerOptions& o) {
  const auto& req = p.get();
  size_t count = 0;
  for (auto it = req.begin(); it != req.end(); ++it) ++count;
  if (count > o.header_count_max)
    return Refusal{431, limit::kHeaderCount, "too_many_headers",
                   absl::StrCat("more than ", o.header_count_max, " headers")};
  const auto method = req.method();
  const bool has_length = p.content_length().has_value() || p.chunked();
  if ((method == bhttp::verb::post || method == bhttp::verb::put || method == bhttp::verb::patch) &&
      !has_length)
    return Refusal{411, limit::kLengthRequired, "length_required",
                   "a request with a body needs Content-Length (or chunked encoding); send "
                   "Content-Length: 0 for an empty body"};
  return std::nullopt;
}

// A read that failed other than by a timeout: nothing to answer (the client
// went away), or the refusal to answer.
std::optional<Refusal> ReadRefusal(beast::error_code ec, const ServerOptions& o) {
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
    return Refusal{
        431, limit::kHeaderBytes, "header_too_large",
        absl::StrCat("the request line and headers exceed ", o.header_bytes_max, " bytes")};
  if (ec == bhttp::error::body_limit)
    return Refusal{413, limit::kBodyBytes, "payload_too_large",
                   absl::StrCat("the body exceeds ", o.body_bytes_max, " bytes")};
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
    return std::nullopt;
  return Refusal{400, nullptr, "bad_request",
                 absl::StrCat("malformed HTTP request: ", ec.message())};
}

// What a handler gets of a parsed request (its body is moved out; the
// caller sets remote_addr).
Request ToRequest(bhttp::request<bhttp::string_body>* req) {
  Request r;
  r.method = std::string(req->method_string());
  const std::string target(req->target());
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string::npos) r.query = std::string(target.substr(q + 1));
  r.headers.reserve(8);
  for (const auto& f : *req)
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(req->body());
  r.websocket = ws::is_upgrade(*req);
  return r;
}

}  // namespace

ParsedRequest ParseRequest(absl::string_view bytes, const ServerOptions& options) {
  ParsedRequest out;
  RequestParser p;
  ConfigureParser(&p, options);
  size_t used = 0;
  // As a read does: the parser takes what is there until it is done, or
  // needs bytes that are not there yet.
  auto put = [&](auto done) -> beast::error_code {
    beast::error_code ec;
    while (!done()) {
      const size_t n = p.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
      used += n;
      if (ec == bhttp::error::need_more) {
        if (n == 0 || used == bytes.size()) return ec;
        ec = {};
      } else if (ec) {
        return ec;
      } else if (!done() && used == bytes.size()) {
        return bhttp::error::need_more;
      }
    }
    return ec;
  };
  auto refuse = [&](const Refusal& r) {
    out.outcome = ParsedRequest::Outcome::kRefused;
    out.status = r.status;
    out.code = r.code;
    return out;
  };
  beast::error_code ec = put([&] { return p.is_header_done(); });
  if (ec == bhttp::error::need_more) return out;
  if (ec) {
    std::optional<Refusal> r = ReadRefusal(ec, options);
    return r ? refuse(*r) : out;
  }
  if (std::optional<Refusal> r = CheckHeader(p, options)) return refuse(*r);
  if (!p.is_done()) {
    p.eager(true);  // as http::async_read sets it for the body
    ec = put([&] { return p.is_done(); });
    if (ec == bhttp::error::need_more) return out;
    if (ec) {
      std::optional<Refusal> r = ReadRefusal(ec, options);
      return r ? refuse(*r) : out;
    }
  }
  bhttp::request<bhttp::string_body> req = p.release();
  out.request = ToRequest(&req);
  out.outcome = ParsedRequest::Outcome::kRequest;
  out.consumed = used;
  return out;
}

struct Server::Impl {
  Impl(ServerOptions o, Handler h, api::Metrics* m)
      : options(std::move(o)),
        handler(std::move(h)),
        metrics(m),
        access(options.access_log ? Logger("access") : nullptr) {}

  void Hit(const char* name) {
    metrics->Add("ticketledger_http_limit_hits_total", {{"limit", name}});
  }
  // A request or connection the transport refuses: the limit that bit is
  // counted (none for a malformed request), and the access log (if on) says
  // what was refused and how (status 0: closed without an answer). No method
  // or route: the request was not, or not wholly, read.
  void Refused(const char* limit_name, absl::string_view why, int status) {
    if (limit_name) Hit(limit_name);
    if (access)
      access->info("- - {} refused: {}", status ? std::to_string(status) : "closed",
                   std::string(why));
  }
  void Release(const std::string& addr) {
    absl::MutexLock lock(&mu);
    --total;
    if (auto it = per_address.find(addr); it != per_address.end() && --it->second == 0)
      per_address.erase(it);
    metrics->Set("ticketledger_http_connections", {}, static_cast<double>(total));
  }
  void AcceptLoop();
  void Admit(tcp::socket socket);

  const ServerOptions options;
  const Handler handler;
  api::Metrics* const metrics;
  const std::shared_ptr<spdlog::logger> access;  // null without --access-log
  absl::Mutex mu;
  size_t total ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, size_t> per_address ABSL_GUARDED_BY(mu);
  // Declared after the counters: connections die with their loops, and
  // release their counts on the way.
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> backoff;
  size_t next_loop = 0;
};

namespace {

// A connection's share of the counters, returned when the connection ends.
class ConnToken {
 public:
  ConnToken(Server::Impl* srv, std::string addr) : srv_(srv), addr_(std::move(addr)) {}
  ~ConnToken() { srv_->Release(addr_); }
  const std::string& addr() const { return addr_; }
  Server::Impl* server() const { return srv_; }

 private:
  Server::Impl* const srv_;
  const std::string addr_;
};

std::string SseEvent(const LiveMessage& m) {
  return absl::StrCat("id: ", m.id, "\nevent: status\ndata: ", m.data, "\n\n");
}

// The send side of a live stream, on its connection's thread. Messages are
// snapshots: while one is being written a newer one replaces any still
// waiting, so a slow reader costs two messages at most.
class SnapshotQueue {
 public:
  // A message to send: returned if it is to be written now.
  std::optional<LiveMessage> Offer(LiveMessage m) {
    if (ended_) return std::nullopt;
    if (writing_) {
      pending_ = std::move(m);
      return std::nullopt;
    }
    writing_ = true;
    return m;
  }
  // Something else takes the writer (the SSE head, a ping) if it is free.
  bool TakeIfIdle() {
    if (ended_ || writing_) return false;
    writing_ = true;
    return true;
  }
  // A write finished: the message waiting to go next, if any.
  std::optional<LiveMessage> Next() {
    std::optional<LiveMessage> m = std::move(pending_);
    pending_.reset();
    writing_ = m.has_value();
    return m;
  }
  // The stream ended: true the first time.
  bool End() {
    if (ended_) return false;
    ended_ = true;
    pending_.reset();
    return true;
  }

 private:
  std::optional<LiveMessage> pending_;
  bool writing_ = false, ended_ = false;
};

// A WebSocket live stream (after the HTTP session handed its socket over).
class WsSession final : public StreamConn, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(beast::tcp_stream&& stream, std::unique_ptr<ConnToken> token,
            std::shared_ptr<StreamSpec> spec)
      : ws_(std::move(stream)),
        token_(std::move(token)),
        spec_(std::move(spec)),
        write_timer_(ws_.get_executor()) {}
  ~WsSession() override { End(); }

  void Start(bhttp::request<bhttp::string_body> req, Headers extra) {
    const ServerOptions& o = token_->server()->options;
    beast::get_lowest_layer(ws_).expires_never();
    ws::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = std::chrono::seconds(std::max(2, o.idle_timeout_s));
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(o.websocket_message_bytes_max);
    ws_.set_option(ws::stream_base::decorator([extra = std::move(extra)](ws::response_type& r) {
      for (const auto& [k, v] : extra) r.set(k, v);
    }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->End();
      if (self->spec_->on_open) self->spec_->on_open(self);
      self->Read();
    });
  }

  void Send(LiveMessage m) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), m = std::move(m)]() mutable {
      if (auto now = self->queue_.Offer(std::move(m))) self->Write(std::move(*now));
    });
  }
  void Ping() override {}  // the WebSocket layer pings by itself
  void Close() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

 private:
  void Read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->End();
      self->in_.consume(n);  // clients have nothing to say; control frames are handled below us
      self->Read();
    });
  }
  void Write(LiveMessage m) {
    final_ = m.final;
    out_ = absl::StrCat(R"({"event":"status","id":")", m.id, R"(","data":)", m.data, "}");
    ws_.text(true);
    write_timer_.expires_after(std::chrono::seconds(token_->server()->options.write_timeout_s));
    write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the write finished
      self->token_->server()->Refused(limit::kWriteTimeout, limit::kWriteTimeout, 0);
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
    ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->write_timer_.cancel();
      if (ec) return self->End();
      if (self->final_) {
        self->ws_.async_close(ws::close_code::normal, [self](beast::error_code) { self->End(); });
        return;
      }
      if (auto next = self->queue_.Next()) self->Write(std::move(*next));
    });
  }
  void End() {
    if (!queue_.End()) return;
    if (spec_ && spec_->on_close) spec_->on_close();
  }

  ws::stream<beast::tcp_stream> ws_;
  std::unique_ptr<ConnToken> token_;
  std::shared_ptr<StreamSpec> spec_;
  asio::steady_timer write_timer_;
  beast::flat_buffer in_;
  std::string out_;
  SnapshotQueue queue_;
  bool final_ = false;
};

// One HTTP connection: read a request, answer it, read the next; or become
// an SSE stream (this object) or hand its socket to a WsSession.
class Session final : public StreamConn, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::unique_ptr<ConnToken> token)
      : stream_(std::move(socket)),
        token_(std::move(token)),
        o_(token_->server()->options),
        buffer_(o_.header_bytes_max + 64 * 1024) {}
  ~Session() override { EndStream(); }

  void Start() { ReadRequest(); }

  // Answers at once and closes: the connection was over a limit at accept.
  void Reject(Response r) {
    keep_alive_ = false;
    Write(std::move(r));
  }

  // StreamConn (SSE).
  void Send(LiveMessage m) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), m = std::move(m)]() mutable {
      if (auto now = self->queue_.Offer(std::move(m))) self->WriteEvent(SseEvent(*now), now->final);
    });
  }
  void Ping() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->queue_.TakeIfIdle()) self->WriteEvent(": ping\n\n", false);
    });
  }
  void Close() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().close(ec);
    });
  }

 private:
  Server::Impl* srv() const { return token_->server(); }

  void ReadRequest() {
    parser_.emplace();
    ConfigureParser(&*parser_, o_);
    if (buffer_.size() > 0) {  // a pipelined request is already here
      first_byte_ = Clock::now();
      return ReadHeader();
    }
    stream_.expires_after(std::chrono::seconds(o_.idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) {
                                if (ec == beast::error::timeout)
                                  self->srv()->Hit(limit::kIdleTimeout);
                                return;  // idle, closed or reset: the connection just ends
                              }
                              self->buffer_.commit(n);
                              self->first_byte_ = Clock::now();
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    stream_.expires_at(first_byte_ + std::chrono::milliseconds(o_.header_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->ReadFailed(ec, limit::kHeaderTimeout);
                               self->HeaderDone();
                             });
  }

  void HeaderDone() {
    if (std::optional<Refusal> r = CheckHeader(*parser_, o_)) return Fail(*r);
    const auto& req = parser_->get();
    if (parser_->is_done()) return Dispatch();
    if (auto expect = req[bhttp::field::expect];
        absl::EqualsIgnoreCase(absl::string_view(expect.data(), expect.size()), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(std::chrono::seconds(o_.write_timeout_s));
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = shared_from_this()](beast::error_code ec, size_t) {
                                 if (!ec) self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_at(first_byte_ + std::chrono::milliseconds(o_.request_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->ReadFailed(ec, limit::kRequestTimeout);
                        self->Dispatch();
                      });
  }

  void ReadFailed(beast::error_code ec, const char* timeout_limit) {
    if (ec == beast::error::timeout) {
      srv()->Refused(timeout_limit, timeout_limit, 0);
      return;  // the stream closed the socket: nothing more can be said
    }
    if (std::optional<Refusal> r = ReadRefusal(ec, o_)) Fail(*r);
  }

  // Answers a request the transport refuses, then closes.
  void Fail(const Refusal& r) {
    srv()->Refused(r.limit, r.limit ? r.limit : r.code, r.status);
    keep_alive_ = false;
    Write(ErrorResponse(r.status, r.code, r.message));
  }

  void Dispatch() {
    bhttp::request<bhttp::string_body> req = parser_->release();
    parser_.reset();
    ++served_;
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    if (keep_alive_ && served_ >= o_.requests_per_connection_max) {
      srv()->Hit(limit::kRequestsPerConnection);
      keep_alive_ = false;
    }
    Request r = ToRequest(&req);
    r.remote_addr = token_->addr();
    if (r.websocket) upgrade_ = std::move(req);
    auto replied = std::make_shared<std::atomic<bool>>(false);
    srv()->handler(std::move(r), [self = shared_from_this(), replied](Response res) {
      bool was = replied->exchange(true);
      assert(!was && "a handler replied twice");
      if (was) return;
      asio::dispatch(self->stream_.get_executor(),
                     [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    });
  }

  void Write(Response r) {
    if (r.stream) return StartStream(std::move(r));
    res_ = {};
    res_.version(version_);  // an HTTP/1.0 keep-alive client (ab -k) needs the header
    res_.result(static_cast<unsigned>(r.status));
    if (!r.body.empty() || r.status >= 200) res_.set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res_.set(k, v);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(o_.write_timeout_s));
    bhttp::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (ec == beast::error::timeout)
          self->srv()->Refused(limit::kWriteTimeout, limit::kWriteTimeout, 0);
        return;
      }
      if (!self->keep_alive_) return self->DrainAndClose();
      self->ReadRequest();
    });
  }

  // Half-closes, then reads what the client still sends (bounded) before
  // closing, so a reset does not destroy the answer on its way (a 413 sent
  // while the client is still sending its body).
  void DrainAndClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    drained_ = 0;
    Drain();
  }
  void Drain() {
    stream_.expires_after(std::chrono::seconds(2));
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < (1u << 20)) self->Drain();
                            });
  }

  void StartStream(Response r) {
    spec_ = std::move(r.stream);
    if (spec_->kind == StreamSpec::Kind::kWebSocket) {
      auto ws = std::make_shared<WsSession>(std::move(stream_), std::move(token_), spec_);
      spec_.reset();  // the WsSession owns it now
      ws->Start(std::move(*upgrade_), std::move(r.headers));
      return;
    }
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "X-Accel-Buffering: no\r\nConnection: close\r\n";
    for (const auto& [k, v] : r.headers) absl::StrAppend(&head, k, ": ", v, "\r\n");
    head += "\r\nretry: 2000\n\n";
    buffer_.clear();
    buffer_.shrink_to_fit();  // a stream reads nothing: give the read buffer back
    // Notice at once when the client goes away. On the bare socket: a read
    // through the tcp_stream would carry the deadline of the write pending
    // beside it, and end every stream at the first write deadline.
    stream_.expires_never();
    stream_.socket().async_read_some(asio::buffer(scratch_),
                                     [self = shared_from_this()](beast::error_code, size_t) {
                                       beast::error_code ignored;
                                       self->stream_.socket().close(ignored);
                                       self->EndStream();
                                     });
    queue_.TakeIfIdle();
    WriteEvent(std::move(head), false, /*opening=*/true);
  }

  // Writes one event (or the head, or a ping); the queue's writer is taken.
  void WriteEvent(std::string bytes, bool final, bool opening = false) {
    out_ = std::move(bytes);
    stream_.expires_after(std::chrono::seconds(o_.write_timeout_s));
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this(), final, opening](beast::error_code ec, size_t) {
                        self->stream_.expires_never();
                        if (ec) {
                          if (ec == beast::error::timeout)
                            self->srv()->Refused(limit::kWriteTimeout, limit::kWriteTimeout, 0);
                          return self->EndStream();
                        }
                        if (opening && self->spec_ && self->spec_->on_open)
                          self->spec_->on_open(self);
                        if (final) {
                          self->EndStream();
                          return self->DrainAndClose();
                        }
                        if (auto next = self->queue_.Next())
                          self->WriteEvent(SseEvent(*next), next->final);
                      });
  }

  void EndStream() {
    if (!spec_ || !queue_.End()) return;
    if (spec_->on_close) spec_->on_close();
  }

  beast::tcp_stream stream_;
  std::unique_ptr<ConnToken> token_;
  const ServerOptions& o_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::request<bhttp::string_body>> upgrade_;
  bhttp::response<bhttp::string_body> res_;
  Clock::time_point first_byte_;
  uint64_t served_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  size_t drained_ = 0;
  // SSE stream state.
  std::shared_ptr<StreamSpec> spec_;
  std::string out_;
  SnapshotQueue queue_;
  char scratch_[256];
};

}  // namespace

void Server::Impl::AcceptLoop() {
  acceptor->async_wait(tcp::acceptor::wait_read, [this](beast::error_code ec) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    // Drain the kernel's queue (bounded per wake so this loop stays fair).
    for (int i = 0; i < 512; ++i) {
      asio::io_context& loop = *loops[next_loop++ % loops.size()];
      tcp::socket socket(loop);
      acceptor->accept(socket, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec.value() == ENFILE) {
        // Out of files: back off instead of spinning on a queue we cannot take.
        Hit(limit::kConnections);
        backoff->expires_after(std::chrono::milliseconds(50));
        backoff->async_wait([this](beast::error_code e) {
          if (!e) AcceptLoop();
        });
        return;
      }
      if (ec) continue;
      Admit(std::move(socket));
    }
    AcceptLoop();
  });
}

void Server::Impl::Admit(tcp::socket socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;
  std::string addr = peer.address().to_string();
  const char* over = nullptr;
  {
    absl::MutexLock lock(&mu);
    size_t& mine = per_address[addr];
    if (total >= options.connections_max) {
      over = limit::kConnections;
    } else if (mine >= options.connections_per_address_max) {
      over = limit::kConnectionsPerAddress;
    }
    ++total;
    ++mine;
    metrics->Set("ticketledger_http_connections", {}, static_cast<double>(total));
  }
  auto token = std::make_unique<ConnToken>(this, addr);
  auto executor = socket.get_executor();
  auto session = std::make_shared<Session>(std::move(socket), std::move(token));
  if (over == limit::kConnections) {
    Refused(over, over, 503);
    asio::post(executor, [session] {
      session->Reject(ErrorResponse(503, "too_many_connections",
                                    "the server holds as many connections as it can; retry"));
    });
  } else if (over) {
    Refused(over, over, 429);
    asio::post(executor, [session] {
      session->Reject(ErrorResponse(429, "too_many_connections_from_address",
                                    "too many connections from this address"));
    });
  } else {
    asio::post(executor, [session] { session->Start(); });
  }
}

Server::Server(ServerOptions options, Handler handler, api::Metrics* metrics)
    : options_(std::move(options)) {
  if (options_.io_threads <= 0)
    options_.io_threads = std::max(1u, std::thread::hardware_concurrency());
  if (options_.connections_max == 0) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    options_.connections_max = rl.rlim_cur > 1024 ? rl.rlim_cur - 512 : rl.rlim_cur / 2;
  }
  api::DeclareLimitHits(metrics);
  metrics->Declare("ticketledger_http_connections", "gauge", "Open HTTP connections");
  impl_ = std::make_unique<Impl>(options_, std::move(handler), metrics);
  for (int i = 0; i < options_.io_threads; ++i) {
    impl_->loops.push_back(std::make_unique<asio::io_context>(1));
    impl_->work.push_back(asio::make_work_guard(*impl_->loops.back()));
  }
}

Server::~Server() { Stop(); }

absl::StatusOr<int> Server::Listen() {
  Impl& s = *impl_;
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address ", options_.host));
  tcp::endpoint ep(address, static_cast<uint16_t>(options_.port));
  s.acceptor = std::make_unique<tcp::acceptor>(*s.loops[0]);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(ep, ec);
  if (!ec) s.acceptor->listen(options_.listen_backlog, ec);
  if (!ec) s.acceptor->non_blocking(true, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port, ": ", ec.message()));
  s.backoff = std::make_unique<asio::steady_timer>(*s.loops[0]);
  return static_cast<int>(s.acceptor->local_endpoint().port());
}

void Server::Start() {
  Impl& s = *impl_;
  asio::post(*s.loops[0], [&s] { s.AcceptLoop(); });
  for (auto& loop : s.loops) {
    s.threads.emplace_back([l = loop.get()] {
      pthread_setname_np(pthread_self(), "tl-http");
      l->run();
    });
  }
}

void Server::Stop() {
  Impl& s = *impl_;
  if (s.acceptor) {
    asio::post(*s.loops[0], [&s] {
      beast::error_code ec;
      s.acceptor->close(ec);
    });
  }
  for (auto& w : s.work) w.reset();
  for (auto& loop : s.loops) loop->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

size_t Server::connections() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->total;
}

}  // namespace tl::http
