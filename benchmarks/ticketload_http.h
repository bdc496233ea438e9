// HTTP/1.1 and Server-Sent Events for ticketload, on Boost.Beast with C++20
// coroutines. Every operation has a deadline (beast::tcp_stream expiry).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tl::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Completion token: no exceptions, errors come back as the tuple's first item.
inline constexpr auto kAw = asio::as_tuple(asio::use_awaitable);

struct Target {
  tcp::endpoint endpoint;
  std::string host;  // Host header
};

// http://host:port (no TLS, no path). Resolves the host once.
Target ParseUrl(const std::string& url);

// Source addresses 127.0.0.2, 127.0.0.3, ... for `n` > 0; none (the kernel
// chooses) for 0.
std::optional<asio::ip::address> SourceAddress(int n, uint64_t counter);

std::chrono::steady_clock::duration Seconds(double s);

// Opens, binds (IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect
// time per destination) and connects. Returns the error, if any.
asio::awaitable<error_code> Connect(beast::tcp_stream& s, const Target& t,
                                    const std::optional<asio::ip::address>& source,
                                    double timeout_s);

// The error kind reported for a failed socket operation.
std::string ErrorKind(const error_code& ec, bool connecting);

http::request<http::empty_body> EntryRequest(const Target& t, const std::string& campaign,
                                             const std::string& token);
http::request<http::empty_body> EventsRequest(const Target& t, const std::string& campaign,
                                              const std::string& token,
                                              const std::string& last_event_id);

// A blocking request for the coordinator (admin, checks): status 0 and the
// error in `body` when there was no answer.
struct HttpResult {
  int status = 0;
  std::string body;
};
HttpResult SyncRequest(const Target& t, http::verb verb, const std::string& path,
                       const std::string& token, const std::string& body, double timeout_s = 30);

// Incremental text/event-stream parser (WHATWG): `id:`, `event:`, `data:`,
// `retry:`, comments (`:` lines), messages end at an empty line.
class SseParser {
 public:
  struct Message {
    std::string id, event, data;
  };
  template <class OnMessage, class OnComment>
  void Feed(std::string_view bytes, OnMessage&& on_message, OnComment&& on_comment) {
    for (char ch : bytes) {
      if (ch != '\n') {
        line_.push_back(ch);
        continue;
      }
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.empty()) {
        if (has_data_ || !cur_.event.empty()) on_message(cur_);
        cur_ = Message{};
        has_data_ = false;
      } else if (line_[0] == ':') {
        on_comment();
      } else {
        Field();
      }
      line_.clear();
    }
  }
  const std::string& last_event_id() const { return last_id_; }
  int retry_ms() const { return retry_ms_; }

 private:
  void Field();
  std::string line_;
  Message cur_;
  bool has_data_ = false;
  std::string last_id_;
  int retry_ms_ = -1;
};

// Tiny field readers for the server's compact JSON (no full parse per message).
std::string_view JsonString(std::string_view j, std::string_view key);
std::optional<uint64_t> JsonUint(std::string_view j, std::string_view key);

}  // namespace tl::load
