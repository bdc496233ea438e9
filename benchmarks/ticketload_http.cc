#include "benchmarks/ticketload_http.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <stdexcept>

namespace tl::load {

Target ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest(url);
  if (!rest.starts_with(kScheme))
    throw std::invalid_argument("--url must start with http:// (got '" + url + "')");
  rest.remove_prefix(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    throw std::invalid_argument("--url takes no path: http://host:port");
  std::string host(rest), port = "80";
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = std::string(rest.substr(0, colon));
    port = std::string(rest.substr(colon + 1));
  }
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty())
    throw std::invalid_argument("cannot resolve '" + std::string(rest) + "': " + ec.message());
  return Target{results.begin()->endpoint(), std::string(rest)};
}

std::optional<asio::ip::address> SourceAddress(int n, uint64_t counter) {
  if (n <= 0) return std::nullopt;
  const uint32_t host = 0x7f000002u + static_cast<uint32_t>(counter % static_cast<uint64_t>(n));
  return asio::ip::address(asio::ip::address_v4(host));
}

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

asio::awaitable<error_code> Connect(beast::tcp_stream& s, const Target& t,
                                    const std::optional<asio::ip::address>& source,
                                    double timeout_s) {
  error_code ec;
  s.socket().open(t.endpoint.protocol(), ec);
  if (ec) co_return ec;
  s.socket().set_option(tcp::no_delay(true), ec);
  if (source) {
    int one = 1;
    ::setsockopt(s.socket().native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    s.socket().bind(tcp::endpoint(*source, 0), ec);
    if (ec) co_return ec;
  }
  s.expires_after(Seconds(timeout_s));
  auto [cec] = co_await s.async_connect(t.endpoint, kAw);
  co_return cec;
}

std::string ErrorKind(const error_code& ec, bool connecting) {
  if (ec == beast::error::timeout) return connecting ? "connect_timeout" : "timeout";
  if (ec == asio::error::no_descriptors) return "fd_limit";
  if (ec == asio::error::address_in_use || ec == boost::system::errc::address_not_available)
    return "no_ports";
  if (connecting) return "connect_error";
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == http::error::partial_message)
    return "closed_by_server";
  return "io_error";
}

namespace {
http::request<http::empty_body> Base(http::verb verb, const Target& t, std::string path,
                                     const std::string& token) {
  http::request<http::empty_body> req{verb, std::move(path), 11};
  req.set(http::field::host, t.host);
  req.set(http::field::user_agent, "ticketload");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.keep_alive(true);
  return req;
}
}  // namespace

http::request<http::empty_body> EntryRequest(const Target& t, const std::string& campaign,
                                             const std::string& token) {
  auto req = Base(http::verb::post, t, "/v1/campaigns/" + campaign + "/entries", token);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::content_length, "0");
  return req;
}

http::request<http::empty_body> EventsRequest(const Target& t, const std::string& campaign,
                                              const std::string& token,
                                              const std::string& last_event_id) {
  auto req = Base(http::verb::get, t, "/v1/campaigns/" + campaign + "/events", token);
  req.set(http::field::accept, "text/event-stream");
  if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
  return req;
}

HttpResult SyncRequest(const Target& t, http::verb verb, const std::string& path,
                       const std::string& token, const std::string& body, double timeout_s) {
  asio::io_context io;
  HttpResult out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream s(io);
        if (error_code ec = co_await Connect(s, t, std::nullopt, timeout_s)) {
          out.body = "connect: " + ec.message();
          co_return;
        }
        http::request<http::string_body> req{verb, path, 11};
        req.set(http::field::host, t.host);
        req.set(http::field::user_agent, "ticketload");
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        if (verb == http::verb::post) req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        s.expires_after(Seconds(timeout_s));
        if (auto [ec, n] = co_await http::async_write(s, req, kAw); ec) {
          out.body = "write: " + ec.message();
          co_return;
        }
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        if (auto [ec, n] = co_await http::async_read(s, buf, res, kAw); ec) {
          out.body = "read: " + ec.message();
          co_return;
        }
        out.status = res.result_int();
        out.body = std::move(res.body());
      },
      asio::detached);
  io.run();
  return out;
}

void SseParser::Field() {
  std::string_view l(line_), name = l, value;
  if (auto colon = l.find(':'); colon != std::string_view::npos) {
    name = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (has_data_) cur_.data.push_back('\n');
    cur_.data.append(value);
    has_data_ = true;
  } else if (name == "event") {
    cur_.event = value;
  } else if (name == "id") {
    cur_.id = value;
    last_id_ = value;
  } else if (name == "retry") {
    int ms = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), ms).ec == std::errc{})
      retry_ms_ = ms;
  }
}

namespace {
// The position just after `"key":` and any blanks, or npos.
size_t ValueAt(std::string_view j, std::string_view key) {
  size_t from = 0;
  while (true) {
    size_t at = j.find(key, from);
    if (at == std::string_view::npos) return at;
    from = at + key.size();
    if (at == 0 || j[at - 1] != '"' || from >= j.size() || j[from] != '"') continue;
    size_t p = from + 1;
    while (p < j.size() && (j[p] == ' ' || j[p] == '\t')) ++p;
    if (p >= j.size() || j[p] != ':') continue;
    ++p;
    while (p < j.size() && (j[p] == ' ' || j[p] == '\t')) ++p;
    return p;
  }
}
}  // namespace

std::string_view JsonString(std::string_view j, std::string_view key) {
  size_t p = ValueAt(j, key);
  if (p == std::string_view::npos || p >= j.size() || j[p] != '"') return {};
  size_t end = j.find('"', p + 1);
  if (end == std::string_view::npos) return {};
  return j.substr(p + 1, end - p - 1);
}

std::optional<uint64_t> JsonUint(std::string_view j, std::string_view key) {
  size_t p = ValueAt(j, key);
  if (p == std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(j.data() + p, j.data() + j.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

}  // namespace tl::load
